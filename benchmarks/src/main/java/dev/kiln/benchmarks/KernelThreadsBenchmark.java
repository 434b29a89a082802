package dev.kiln.benchmarks;

import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.RangeStats;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The threaded kernels (histogram, range statistics, fake quantization per tensor and per channel) on 64 MiB of
 * float32 with {@code threads} kernel threads ({@link KernelBackends#setThreads}), beside a copy split over the same
 * number of threads ({@code System.arraycopy} of equal parts, one part on the calling thread and the others on pool
 * threads, as the Java backend splits its work) as the bandwidth ceiling for that many threads. One JMH thread calls
 * the kernel; the kernel spreads the work.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Threads(1)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class KernelThreadsBenchmark {
    /** 64 MiB of float32. */
    public static final int N = KernelBenchmark.N;
    public static final int CHANNELS = KernelBenchmark.CHANNELS;

    @Param({"java", "cpu"})
    public String backend;

    @Param({"1", "2"})
    public int threads;

    private Kernels kernels;
    private float[] x;
    private float[] y;
    private long[] counts;
    private float[] minC;
    private float[] maxC;
    private ExecutorService copyPool;

    @Setup(Level.Trial)
    public void setUp() {
        KernelBackends.setThreads(threads);
        kernels = KernelBackends.get(backend);
        x = KernelBenchmark.data(N, 42);
        y = new float[N];
        counts = new long[2048];
        minC = new float[CHANNELS];
        maxC = new float[CHANNELS];
        for (int c = 0; c < CHANNELS; c++) {
            minC[c] = -2f - c * 0.01f;
            maxC[c] = 2f + c * 0.02f;
        }
        copyPool = Executors.newFixedThreadPool(Math.max(1, threads - 1), r -> {
            Thread t = new Thread(r, "copy");
            t.setDaemon(true);
            return t;
        });
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        copyPool.shutdownNow();
        KernelBackends.setThreads(0);
    }

    /** Reads 64 MiB, writes 64 MiB, in {@code threads} equal parts. */
    @Benchmark
    public float[] copy() throws InterruptedException, ExecutionException {
        int part = (N + threads - 1) / threads;
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 1; t < threads; t++) {
            int from = t * part;
            int len = Math.min(N, from + part) - from;
            futures.add(copyPool.submit(() -> System.arraycopy(x, from, y, from, len)));
        }
        System.arraycopy(x, 0, y, 0, Math.min(N, part));
        for (Future<?> f : futures) {
            f.get();
        }
        return y;
    }

    /** Reads 64 MiB (2048-bin |x| histogram over [0, 8)). */
    @Benchmark
    public long[] histogram() {
        Arrays.fill(counts, 0);
        kernels.histogram(x, 0.125f, 2048, false, counts, null);
        return counts;
    }

    /** Reads 64 MiB. */
    @Benchmark
    public RangeStats rangeStats() {
        return kernels.rangeStats(x);
    }

    /** Reads 64 MiB, writes 64 MiB. */
    @Benchmark
    public float[] fakeQuantPerTensor() {
        kernels.fakeQuant(x, AxisView.perTensor(N), new float[] {-3f}, new float[] {3f}, 8, false, y);
        return y;
    }

    /** Reads 64 MiB, writes 64 MiB; 64 channels on the last axis. */
    @Benchmark
    public float[] fakeQuantPerChannel() {
        kernels.fakeQuant(x, new AxisView(N / CHANNELS, CHANNELS, 1), minC, maxC, 8, false, y);
        return y;
    }
}
