package dev.kiln.benchmarks;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.quantization.FakeQuantWithMinMaxVars;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;

import java.util.concurrent.TimeUnit;

/**
 * The peer: TensorFlow's own FakeQuantWithMinMaxVars through TF Java on the same 64 MiB, one intra-op thread (the
 * kernels run single threaded too). Reads 64 MiB, writes 64 MiB.
 *
 * <p>Fairness: Kiln's benchmarks write into a Java array that the caller then owns; TensorFlow returns a native
 * tensor that nobody reads. Two variants therefore: {@code tensorflowFakeQuantWithMinMaxVars} (the op alone, output
 * never touched) and {@code tensorflowFakeQuantReadOutput} (the same run plus one read of every cache line of the
 * output, so the result is really materialised: if TF had forwarded or aliased a buffer, or deferred work, this is
 * where it would show). Set-up checks that TF did not compute in place into the fed input (it would then quantize
 * already-quantized data from the second call on) and that the output equals Kiln's bit for bit.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Threads(1)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class TensorFlowFakeQuantBenchmark {
    private Graph graph;
    private Session session;
    private TFloat32 input;
    private Placeholder<TFloat32> in;
    private Operand<TFloat32> out;

    @Setup(Level.Trial)
    public void setUp() {
        graph = new Graph();
        Ops tf = Ops.create(graph);
        in = tf.placeholder(TFloat32.class);
        out = tf.quantization.fakeQuantWithMinMaxVars(in, tf.constant(-3f), tf.constant(3f),
                FakeQuantWithMinMaxVars.numBits(8L), FakeQuantWithMinMaxVars.narrowRange(false));
        ConfigProto config = ConfigProto.newBuilder().setIntraOpParallelismThreads(1)
                .setInterOpParallelismThreads(1).build();
        session = new Session(graph, config);
        float[] x = KernelBenchmark.data(KernelBenchmark.N, 42);
        input = TFloat32.tensorOf(Shape.of(x.length), DataBuffers.of(x, true, false));
        float[] expected = new float[x.length];
        new dev.kiln.kernels.JavaKernels().fakeQuant(x, dev.kiln.kernels.AxisView.perTensor(x.length),
                new float[] {-3f}, new float[] {3f}, 8, false, expected);
        try (var result = session.runner().feed(in, input).fetch(out).run()) {
            TFloat32 y = (TFloat32) result.get(0);
            float[] got = new float[x.length];
            y.asRawTensor().data().asFloats().read(got);
            float[] fedAfter = new float[x.length];
            input.asRawTensor().data().asFloats().read(fedAfter);
            if (!java.util.Arrays.equals(fedAfter, x)) {
                throw new IllegalStateException("TensorFlow wrote into the fed input tensor (in-place forwarding)");
            }
            if (!java.util.Arrays.equals(got, expected)) {
                throw new IllegalStateException("TensorFlow's output differs from Kiln's fake quantization");
            }
        }
    }

    @Benchmark
    public long tensorflowFakeQuantWithMinMaxVars() {
        try (var result = session.runner().feed(in, input).fetch(out).run()) {
            return ((Tensor) result.get(0)).numBytes();
        }
    }

    /** The op plus one float read per 64-byte line of its output (every line of the 64 MiB is touched). */
    @Benchmark
    public float tensorflowFakeQuantReadOutput() {
        try (var result = session.runner().feed(in, input).fetch(out).run()) {
            org.tensorflow.ndarray.buffer.FloatDataBuffer y =
                    ((TFloat32) result.get(0)).asRawTensor().data().asFloats();
            float s = 0f;
            for (long i = 0, n = y.size(); i < n; i += 16) {
                s += y.getFloat(i);
            }
            return s;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        input.close();
        session.close();
        graph.close();
    }
}
