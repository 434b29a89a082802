package dev.kiln.graph;

import java.util.SplittableRandom;

/**
 * Hand-built IR graphs in TensorFlow's vocabulary, with deterministic random weights: what the exporters' tests (ONNX,
 * TFLite) build their cases from. Shared through kiln-core's test-jar; each exporter's TestGraphs adds its own cases.
 */
public class HandBuiltGraphs {
    private final Graph g = new Graph();
    private final SplittableRandom rnd;

    public HandBuiltGraphs(long seed) {
        rnd = new SplittableRandom(seed);
    }

    public Graph graph() {
        return g;
    }

    public String input(String name, long... dims) {
        g.add(Node.builder(name, "Placeholder").attr("dtype", DType.FLOAT)
                .outputType(TensorType.of(DType.FLOAT, dims)).build());
        g.addInput(new SignatureTensor(name, TensorRef.of(name, 0), TensorType.of(DType.FLOAT, dims)));
        return name;
    }

    public void output(String sigName, String ref, long... dims) {
        g.addOutput(new SignatureTensor(sigName, TensorRef.parse(ref), TensorType.of(DType.FLOAT, dims)));
    }

    public String constant(String name, Tensor t) {
        g.add(Node.builder(name, "Const").attr("dtype", t.dtype()).attr("value", t).outputType(t.type()).build());
        return name;
    }

    public String weights(String name, float range, long... dims) {
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

    public String ints(String name, int... v) {
        return constant(name, Tensor.ofInts(Shape.of(v.length), v));
    }

    public String op(String name, String op, String... inputs) {
        Node.Builder b = Node.builder(name, op).attr("T", DType.FLOAT);
        for (String in : inputs) {
            b.input(in);
        }
        g.add(b.build());
        return name;
    }

    public Node.Builder builder(String name, String op, String... inputs) {
        Node.Builder b = Node.builder(name, op).attr("T", DType.FLOAT);
        for (String in : inputs) {
            b.input(in);
        }
        return b;
    }

    public String add(Node.Builder b) {
        return g.add(b.build()).name();
    }

    public String conv(String name, String x, int kh, int kw, int cin, int cout, int stride, String padding) {
        String w = weights(name + "/kernel", 0.5f, kh, kw, cin, cout);
        return add(builder(name, "Conv2D", x, w).attr("strides", AttrValueInts.of(1, stride, stride, 1))
                .attr("padding", padding).attr("data_format", "NHWC")
                .attr("dilations", AttrValueInts.of(1, 1, 1, 1)));
    }

    public String depthwise(String name, String x, int k, int cin, int mult, int stride, String padding) {
        String w = weights(name + "/kernel", 0.5f, k, k, cin, mult);
        return add(builder(name, "DepthwiseConv2dNative", x, w).attr("strides", AttrValueInts.of(1, stride, stride, 1))
                .attr("padding", padding).attr("data_format", "NHWC"));
    }

    public String bias(String name, String x, int c) {
        String b = weights(name + "/bias", 0.2f, c);
        return add(builder(name, "BiasAdd", x, b).attr("data_format", "NHWC"));
    }

    public String batchNorm(String name, String x, int c) {
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

    public String pool(String name, String op, String x, int k, int stride, String padding) {
        return add(builder(name, op, x).attr("ksize", AttrValueInts.of(1, k, k, 1))
                .attr("strides", AttrValueInts.of(1, stride, stride, 1)).attr("padding", padding)
                .attr("data_format", "NHWC"));
    }

    /**
     * A small CNN like the bundled example: conv+bias+relu, depthwise+BN+relu6, residual add, maxpool, concat on
     * channels, avgpool, mean over H,W, dense + softmax. Input [?,16,16,3], output [?,10].
     */
    public static Graph cnn(long seed) {
        HandBuiltGraphs t = new HandBuiltGraphs(seed);
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
    public static Graph mlp(long seed) {
        HandBuiltGraphs t = new HandBuiltGraphs(seed);
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

    /** Tiny helper for list-of-int attributes. */
    public static final class AttrValueInts {
        public static dev.kiln.graph.AttrValue of(long... v) {
            return dev.kiln.graph.AttrValue.ofInts(v);
        }
    }
}
