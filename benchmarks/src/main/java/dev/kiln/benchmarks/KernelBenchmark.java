package dev.kiln.benchmarks;

import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.Packed24;
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

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Single-thread kernel throughput on 64 MiB of float32 (16 Mi values): the plain copy (bandwidth ceiling), histogram
 * collection, fake quantization per tensor and per channel, and 2:4 packing, on each backend. Divide the bytes moved
 * (documented per benchmark) by the time per operation for GB/s. A backend that is not available here fails its
 * setup and JMH moves on.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Threads(1)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class KernelBenchmark {
    /** 64 MiB of float32. */
    public static final int N = 16 * 1024 * 1024;
    public static final int CHANNELS = 64;
    public static final int COLS_24 = 1024;

    @Param({"java", "cpu", "cuda"})
    public String backend;

    private Kernels kernels;
    private float[] x;
    private float[] y;
    private float[] sparse24;
    private long[] counts;
    private float[] minC;
    private float[] maxC;

    @Setup(Level.Trial)
    public void setUp() {
        kernels = KernelBackends.get(backend);
        x = data(N, 42);
        y = new float[N];
        counts = new long[2048];
        minC = new float[CHANNELS];
        maxC = new float[CHANNELS];
        for (int c = 0; c < CHANNELS; c++) {
            minC[c] = -2f - c * 0.01f;
            maxC[c] = 2f + c * 0.02f;
        }
        sparse24 = x.clone();
        byte[] mask = kernels.maskNM(sparse24, AxisView.of(new long[] {N / COLS_24, COLS_24}, 1), 2, 4);
        for (int i = 0; i < N; i++) {
            if (mask[i] == 0) {
                sparse24[i] = 0f;
            }
        }
    }

    static float[] data(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    /** Reads 64 MiB, writes 64 MiB. */
    @Benchmark
    public float[] copy() {
        System.arraycopy(x, 0, y, 0, N);
        return y;
    }

    /** Reads 64 MiB (2048-bin |x| histogram over [0, 8)). */
    @Benchmark
    public long[] histogram() {
        Arrays.fill(counts, 0);
        kernels.histogram(x, 0.125f, 2048, false, counts, null);
        return counts;
    }

    /** Reads 64 MiB, writes 64 MiB. */
    @Benchmark
    public float[] fakeQuantPerTensor() {
        kernels.fakeQuant(x, AxisView.perTensor(N), new float[] {-3f}, new float[] {3f}, 8, false, y);
        return y;
    }

    /** Reads 64 MiB, writes 64 MiB; 64 channels on the last axis (TensorFlow's per-channel layout). */
    @Benchmark
    public float[] fakeQuantPerChannel() {
        kernels.fakeQuant(x, new AxisView(N / CHANNELS, CHANNELS, 1), minC, maxC, 8, false, y);
        return y;
    }

    /** Reads 64 MiB, writes 32 MiB of values and 4 MiB of metadata. */
    @Benchmark
    public Packed24 pack24() {
        return kernels.pack24(sparse24, N / COLS_24, COLS_24);
    }
}
