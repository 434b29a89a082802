package dev.kiln.onnx;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.tensorflow.TfTensors;
import org.tensorflow.Graph;
import org.tensorflow.OperationBuilder;
import org.tensorflow.Output;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One small TensorFlow graph built with TF Java, for the op-coverage tests: placeholders come with the random values
 * they are fed (drawn from a fixed seed, in a range the op is defined on), constants are real Const nodes, and every
 * op is a real TF op that TensorFlow validates and infers types for.
 */
final class TfOpGraph implements AutoCloseable {
    final Graph g = new Graph();
    /** Placeholder name → the value it is fed. */
    final Map<String, Tensor> feeds = new LinkedHashMap<>();
    /** Output tensor names ("node" or "node:1"). */
    final List<String> outputs = new ArrayList<>();
    private final SplittableRandom rnd;
    private int count;

    TfOpGraph(long seed) {
        rnd = new SplittableRandom(seed);
    }

    private String name(String base) {
        return base + "_" + count++;
    }

    /** A float placeholder fed uniform values in [-3, 3). */
    Output<?> floats(long... dims) {
        return floatsIn(-3, 3, dims);
    }

    /** A float placeholder fed uniform values in [lo, hi). */
    Output<?> floatsIn(double lo, double hi, long... dims) {
        float[] v = new float[size(dims)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextDouble(lo, hi);
        }
        return input(Tensor.ofFloats(Shape.of(dims), v));
    }

    /** An int32 placeholder fed uniform values in [lo, hi). */
    Output<?> intsIn(int lo, int hi, long... dims) {
        int[] v = new int[size(dims)];
        for (int i = 0; i < v.length; i++) {
            v[i] = rnd.nextInt(lo, hi);
        }
        return input(Tensor.ofInts(Shape.of(dims), v));
    }

    /** A bool placeholder fed random values. */
    Output<?> bools(long... dims) {
        byte[] v = new byte[size(dims)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (byte) (rnd.nextBoolean() ? 1 : 0);
        }
        return input(Tensor.ofBytes(DType.BOOL, Shape.of(dims), v));
    }

    /** A placeholder fed exactly {@code value}. */
    Output<?> input(Tensor value) {
        return input(value, false);
    }

    /** A float placeholder of unknown batch size (dim 0), so that shape ops on it cannot be folded, fed [-3, 3). */
    Output<?> floatsAnyBatch(long... dims) {
        float[] v = new float[size(dims)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextDouble(-3, 3);
        }
        return input(Tensor.ofFloats(Shape.of(dims), v), true);
    }

    private Output<?> input(Tensor value, boolean anyBatch) {
        String n = "in" + feeds.size();
        long[] d = value.shape().dims().clone();
        if (anyBatch) {
            d[0] = -1;
        }
        Output<?> o = g.opBuilder("Placeholder", n, g.baseScope()).setAttr("dtype", TfTensors.toTf(value.dtype()))
                .setAttr("shape", org.tensorflow.ndarray.Shape.of(d)).build().output(0);
        feeds.put(n, value);
        return o;
    }

    Output<?> constant(Tensor t) {
        try (org.tensorflow.Tensor tt = TfTensors.toTf(t)) {
            return g.opBuilder("Const", name("const"), g.baseScope()).setAttr("value", tt)
                    .setAttr("dtype", TfTensors.toTf(t.dtype())).build().output(0);
        }
    }

    /** An int32 vector constant, or a scalar when one value is given. */
    Output<?> ints(int... v) {
        return constant(v.length == 1 ? Tensor.scalar(v[0]) : Tensor.ofInts(Shape.of(v.length), v));
    }

    Output<?> scalar(float v) {
        return constant(Tensor.scalar(v));
    }

    /** A float constant of the given shape with uniform values in [-1, 1). */
    Output<?> weights(long... dims) {
        float[] v = new float[size(dims)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextDouble(-1, 1);
        }
        return constant(Tensor.ofFloats(Shape.of(dims), v));
    }

    /** An op under construction: {@code op("Tile", x, m).build()} or with attributes set on the builder. */
    OperationBuilder op(String type, Output<?>... ins) {
        OperationBuilder b = g.opBuilder(type, name(type), g.baseScope());
        for (Output<?> in : ins) {
            b.addInput(in);
        }
        return b;
    }

    /** An op with a list input (ConcatV2, Pack, AddN...) followed by single inputs. */
    OperationBuilder opList(String type, Output<?>[] list, Output<?>... ins) {
        OperationBuilder b = g.opBuilder(type, name(type), g.baseScope()).addInputList(list);
        for (Output<?> in : ins) {
            b.addInput(in);
        }
        return b;
    }

    /** Shortcut for an op without attributes; returns its first output. */
    Output<?> apply(String type, Output<?>... ins) {
        return op(type, ins).build().output(0);
    }

    void output(Output<?> o) {
        String n = o.op().name();
        outputs.add(o.index() == 0 ? n : n + ":" + o.index());
    }

    private static int size(long[] dims) {
        int n = 1;
        for (long d : dims) {
            n *= (int) d;
        }
        return n;
    }

    @Override
    public void close() {
        g.close();
    }
}
