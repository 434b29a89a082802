package dev.kiln.tflite;

import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import java.util.SplittableRandom;

/** Hand-built IR graphs in TensorFlow's vocabulary, with deterministic random weights. */
final class TestGraphs {
    private final Graph g = new Graph();
    private final SplittableRandom rnd;

    TestGraphs(long seed) {
        rnd = new SplittableRandom(seed);
    }

    Graph graph() {
        return g;
    }

    String input(String name, long... dims) {
        g.add(Node.builder(name, "Placeholder").attr("dtype", DType.FLOAT)
                .outputType(TensorType.of(DType.FLOAT, dims)).build());
        g.addInput(new SignatureTensor(name, TensorRef.of(name, 0), TensorType.of(DType.FLOAT, dims)));
        return name;
    }

    void output(String sigName, String ref, long... dims) {
        g.addOutput(new SignatureTensor(sigName, TensorRef.parse(ref), TensorType.of(DType.FLOAT, dims)));
    }

    String constant(String name, Tensor t) {
        g.add(Node.builder(name, "Const").attr("dtype", t.dtype()).attr("value", t).outputType(t.type()).build());
        return name;
    }

    String weights(String name, float range, long... dims) {
        int n = 1;
        for (long d : dims) {
            n *= (int) d;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextDouble(-1, 1) * range);
        }
        return constant(name, Tensor.ofFloats(Shape.of(dims), v));
    }

    String ints(String name, int... v) {
        return constant(name, Tensor.ofInts(Shape.of(v.length), v));
    }

    String op(String name, String op, String... inputs) {
        Node.Builder b = Node.builder(name, op).attr("T", DType.FLOAT);
        for (String in : inputs) {
            b.input(in);
        }
        g.add(b.build());
        return name;
    }

    Node.Builder builder(String name, String op, String... inputs) {
        Node.Builder b = Node.builder(name, op).attr("T", DType.FLOAT);
        for (String in : inputs) {
            b.input(in);
        }
        return b;
    }

    String add(Node.Builder b) {
        return g.add(b.build()).name();
    }

    String conv(String name, String x, int kh, int kw, int cin, int cout, int stride, String padding) {
        String w = weights(name + "/kernel", 0.5f, kh, kw, cin, cout);
        return add(builder(name, "Conv2D", x, w).attr("strides", AttrValueInts.of(1, stride, stride, 1))
                .attr("padding", padding).attr("data_format", "NHWC")
                .attr("dilations", AttrValueInts.of(1, 1, 1, 1)));
    }

    String depthwise(String name, String x, int k, int cin, int mult, int stride, String padding) {
        String w = weights(name + "/kernel", 0.5f, k, k, cin, mult);
        return add(builder(name, "DepthwiseConv2dNative", x, w).attr("strides", AttrValueInts.of(1, stride, stride, 1))
                .attr("padding", padding).attr("data_format", "NHWC"));
    }

    String bias(String name, String x, int c) {
        String b = weights(name + "/bias", 0.2f, c);
        return add(builder(name, "BiasAdd", x, b).attr("data_format", "NHWC"));
    }

    String batchNorm(String name, String x, int c) {
        String scale = weights(name + "/gamma", 1f, c);
        String offset = weights(name + "/beta", 0.3f, c);
        String mean = weights(name + "/mean", 0.3f, c);
        float[] var = new float[c];
        for (int i = 0; i < c; i++) {
            var[i] = (float) rnd.nextDouble(0.5, 1.5);
        }
        String v = constant(name + "/var", Tensor.ofFloats(Shape.of(c), var));
        return add(builder(name, "FusedBatchNormV3", x, scale, offset, mean, v).attr("U", DType.FLOAT)
                .attr("epsilon", 0.001f).attr("is_training", false).attr("data_format", "NHWC"));
    }

    String pool(String name, String op, String x, int k, int stride, String padding) {
        return add(builder(name, op, x).attr("ksize", AttrValueInts.of(1, k, k, 1))
                .attr("strides", AttrValueInts.of(1, stride, stride, 1)).attr("padding", padding)
                .attr("data_format", "NHWC"));
    }

    /**
     * A small CNN like the bundled example: conv+bias+relu, depthwise+BN+relu6, residual add, maxpool, concat on
     * channels, avgpool, mean over H,W, dense + softmax. Input [?,16,16,3], output [?,10].
     */
    static Graph cnn(long seed) {
        TestGraphs t = new TestGraphs(seed);
        String x = t.input("image", -1, 16, 16, 3);
        String c1 = t.op("relu1", "Relu", t.bias("conv1/bias", t.conv("conv1", x, 3, 3, 3, 8, 1, "SAME"), 8));
        String d1 = t.depthwise("dw1", c1, 3, 8, 1, 1, "SAME");
        String r2 = t.op("relu2", "Relu6", t.batchNorm("bn1", d1, 8));
        String res = t.op("residual", "AddV2", r2, c1);
        String p1 = t.pool("pool1", "MaxPool", res, 2, 2, "VALID");
        String c2 = t.op("relu3", "Relu", t.bias("conv2/bias", t.conv("conv2", p1, 1, 1, 8, 8, 1, "VALID"), 8));
        String axis = t.constant("concat/axis", Tensor.scalar(3));
        String cat = t.add(t.builder("concat", "ConcatV2", c2, p1, axis).attr("N", 2L));
        String scaled = t.op("scaled", "Mul", cat, t.weights("scale", 1f, 16));
        String p2 = t.pool("pool2", "AvgPool", scaled, 3, 2, "SAME");
        String mean = t.add(t.builder("gap", "Mean", p2, t.ints("gap/axes", 1, 2)).attr("keep_dims", false));
        String fc = t.bias("fc/bias", t.add(t.builder("fc", "MatMul", mean, t.weights("fc/kernel", 0.5f, 16, 10))
                .attr("transpose_a", false).attr("transpose_b", false)), 10);
        String sm = t.op("probs", "Softmax", fc);
        t.output("probs", sm, -1, 10);
        return t.graph();
    }

    /**
     * A two-layer MLP with a second input that only gates it: x [?,12] → dense+relu → dense = "logits";
     * "gated" = logits × mask [?,4]. The mask feeds no quantized op, so INT8 leaves it float.
     */
    static Graph mlp(long seed) {
        TestGraphs t = new TestGraphs(seed);
        String x = t.input("x", -1, 12);
        String mask = t.input("mask", -1, 4);
        String h = t.op("hidden", "Relu", t.bias("fc1/bias", t.add(t.builder("fc1", "MatMul", x,
                t.weights("fc1/kernel", 0.5f, 12, 16)).attr("transpose_a", false).attr("transpose_b", false)), 16));
        String logits = t.bias("fc2/bias", t.add(t.builder("fc2", "MatMul", h, t.weights("fc2/kernel", 0.5f, 16, 4))
                .attr("transpose_a", false).attr("transpose_b", false)), 4);
        String gated = t.op("gated", "Mul", logits, mask);
        t.output("logits", logits, -1, 4);
        t.output("gated", gated, -1, 4);
        return t.graph();
    }

    /**
     * The ops no model of ../shared uses, in one graph: EXPLICIT-padded conv, Pad, Transpose, StridedSlice,
     * ExpandDims + Squeeze, Slice, Sub, Maximum, Tanh, Sigmoid, LeakyRelu, Exp, Relu6, Mean with keep_dims, ConcatV2
     * on a negative axis, an un-fused BatchNorm and BiasAdd. Input [?,8,8,4] (batch 2 in the tests), outputs
     * "features" [?,4,4,16] and "summary" [?,1,1,16].
     */
    static Graph coverage(long seed) {
        TestGraphs t = new TestGraphs(seed);
        String x = t.input("x", -1, 8, 8, 4);
        String pad = t.add(t.builder("pad", "Pad", x, t.ints2("pad/paddings", 0, 0, 1, 1, 1, 1, 0, 0)));
        String conv = t.add(t.builder("conv_explicit", "Conv2D", x, t.weights("conv_explicit/kernel", 0.5f, 3, 3, 4, 8))
                .attr("strides", AttrValueInts.of(1, 1, 1, 1)).attr("padding", "EXPLICIT")
                .attr("explicit_paddings", AttrValueInts.of(0, 0, 1, 1, 1, 1, 0, 0)).attr("data_format", "NHWC"));
        String bn = t.batchNorm("bn", conv, 8);
        String act = t.op("tanh", "Tanh", bn);
        String sl = t.add(t.builder("strided", "StridedSlice", pad, t.ints("strided/begin", 0, 1, 1, 0),
                t.ints("strided/end", 0, 9, 9, 4), t.ints("strided/strides", 1, 1, 1, 1)).attr("Index", DType.INT32)
                .attr("begin_mask", 9L).attr("end_mask", 9L).attr("ellipsis_mask", 0L).attr("new_axis_mask", 0L)
                .attr("shrink_axis_mask", 0L));
        String sig = t.op("sigmoid", "Sigmoid", sl);
        String perm = t.add(t.builder("transpose", "Transpose", sig, t.ints("transpose/perm", 0, 2, 1, 3)));
        String leaky = t.add(t.builder("leaky", "LeakyRelu", perm).attr("alpha", 0.1f));
        String cat = t.add(t.builder("concat", "ConcatV2", act, leaky, t.constant("concat/axis", Tensor.scalar(-1))).attr("N", 2L));
        String pool = t.pool("pool", "MaxPool", cat, 2, 2, "VALID");
        String sub = t.op("sub", "Sub", pool, t.weights("sub/c", 0.5f, 12));
        String max = t.op("max", "Maximum", sub, t.weights("max/c", 0.2f, 12));
        String exp = t.op("exp", "Exp", t.op("scaled_down", "Mul", max, t.weights("down", 0.3f, 12)));
        String r6 = t.op("relu6", "Relu6", t.bias("b", exp, 12));
        String dims = t.add(t.builder("expand", "ExpandDims", r6, t.constant("expand/dim", Tensor.scalar(1))));
        String sq = t.add(t.builder("squeeze", "Squeeze", dims).attr("squeeze_dims", AttrValueInts.of(1)));
        String slice = t.add(t.builder("slice", "Slice", sq, t.ints("slice/begin", 0, 0, 0, 0),
                t.ints("slice/size", -1, 4, 4, 12)).attr("Index", DType.INT32));
        String feat = t.add(t.builder("features_cat", "ConcatV2", slice, t.op("neg", "Neg", slice),
                t.constant("features_cat/axis", Tensor.scalar(3))).attr("N", 2L));
        String mean = t.add(t.builder("summary", "Mean", feat, t.ints("summary/axes", 1, 2)).attr("keep_dims", true));
        t.output("features", feat, -1, 4, 4, 24);
        t.output("summary", mean, -1, 1, 1, 24);
        return t.graph();
    }

    /**
     * Resizing, splitting and tiling: ResizeBilinear (half-pixel centers) to 16×16 → Split on channels in two →
     * Tile of the first half ×2 on channels → ResizeNearestNeighbor back to 8×8 = "tiled" [?,8,8,4]; the second
     * half = "second" [?,16,16,2]. Input [?,8,8,4].
     */
    static Graph resizeSplitTile(long seed) {
        TestGraphs t = new TestGraphs(seed);
        String x = t.input("x", -1, 8, 8, 4);
        String up = t.add(t.builder("up", "ResizeBilinear", x, t.ints("up/size", 16, 16))
                .attr("align_corners", false).attr("half_pixel_centers", true));
        String split = t.add(t.builder("split", "Split", t.constant("split/axis", Tensor.scalar(3)), up)
                .attr("num_split", 2L));
        String tiled = t.add(t.builder("tile", "Tile", split + ":0", t.ints("tile/multiples", 1, 1, 1, 2))
                .attr("Tmultiples", DType.INT32));
        String down = t.add(t.builder("down", "ResizeNearestNeighbor", tiled, t.ints("down/size", 8, 8))
                .attr("align_corners", false).attr("half_pixel_centers", true));
        t.output("tiled", down, -1, 8, 8, 4);
        t.output("second", t.op("second", "Relu", split + ":1"), -1, 16, 16, 2);
        return t.graph();
    }

    String ints2(String name, int... v) {
        return constant(name, Tensor.ofInts(Shape.of(v.length / 2, 2), v));
    }

    /** Tiny helper for list-of-int attributes. */
    static final class AttrValueInts {
        static dev.kiln.graph.AttrValue of(long... v) {
            return dev.kiln.graph.AttrValue.ofInts(v);
        }
    }
}
