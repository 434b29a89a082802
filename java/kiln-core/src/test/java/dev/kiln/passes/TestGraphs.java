package dev.kiln.passes;

import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Builds small IR graphs for pass tests, and evaluates them in plain Java (a reference for numeric checks). */
final class TestGraphs {
    private TestGraphs() {
    }

    static Node placeholder(Graph g, String name, long... dims) {
        return g.add(Node.builder(name, "Placeholder").attr("dtype", DType.FLOAT)
                .outputType(TensorType.of(DType.FLOAT, dims)).build());
    }

    static Node constant(Graph g, String name, Tensor t) {
        return g.add(GraphEdits.constNode(name, t, List.of()));
    }

    static Node op(Graph g, String name, String op, String... inputs) {
        Node.Builder b = Node.builder(name, op).attr("T", DType.FLOAT);
        for (String in : inputs) {
            b.input(in);
        }
        return g.add(b.build());
    }

    static Node op(Graph g, Node.Builder b) {
        return g.add(b.build());
    }

    static void signature(Graph g, String in, String out) {
        g.addInput(new SignatureTensor(in, TensorRef.of(in, 0), TensorType.of(DType.FLOAT, -1)));
        g.addOutput(new SignatureTensor(out, TensorRef.parse(out), TensorType.of(DType.FLOAT, -1)));
    }

    static Tensor random(Random rnd, long... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return Tensor.ofFloats(s, v);
    }

    static Tensor positive(Random rnd, long... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) {
            v[i] = 0.5f + rnd.nextFloat();
        }
        return Tensor.ofFloats(s, v);
    }

    /** Evaluates the signature outputs for the given feeds (by node name). */
    static List<Tensor> run(Graph g, Map<String, Tensor> feeds) {
        Map<String, Tensor> values = new HashMap<>();
        for (Node n : g.topologicalOrder()) {
            if (feeds.containsKey(n.name())) {
                values.put(n.name() + ":0", feeds.get(n.name()));
                continue;
            }
            if (n.op().equals("Const")) {
                values.put(n.name() + ":0", n.attrTensor("value"));
                continue;
            }
            if (n.op().equals("NoOp") || n.op().equals("Assert")) {
                continue;
            }
            List<Tensor> ins = new ArrayList<>();
            for (TensorRef r : n.dataInputs()) {
                Tensor t = values.get(r.node() + ":" + r.index());
                if (t == null) {
                    throw new IllegalStateException("no value for " + r + " needed by " + n);
                }
                ins.add(t);
            }
            values.put(n.name() + ":0", eval(n, ins));
        }
        List<Tensor> out = new ArrayList<>();
        for (SignatureTensor o : g.outputs()) {
            out.add(values.get(o.tensor().node() + ":" + o.tensor().index()));
        }
        return out;
    }

    private static Tensor eval(Node n, List<Tensor> in) {
        switch (n.op()) {
            case "Conv2D":
                return conv(in.get(0), in.get(1), false);
            case "DepthwiseConv2dNative":
                return conv(in.get(0), in.get(1), true);
            case "MatMul":
                return matmul(in.get(0), in.get(1), n.attrBool("transpose_b", false));
            case "Snapshot", "StopGradient", "CheckNumerics", "PreventGradient", "PlaceholderWithDefault":
                return in.get(0);
            case "BiasAdd":
                return ConstantEvaluator.evaluate(Node.builder("x", "Add").build(), in);
            case "FusedBatchNormV3": {
                float[] x = in.get(0).floats();
                float[] g = in.get(1).floats();
                float[] b = in.get(2).floats();
                float[] m = in.get(3).floats();
                float[] v = in.get(4).floats();
                double eps = n.attrFloat("epsilon", 1e-4f);
                int c = g.length;
                float[] y = new float[x.length];
                for (int i = 0; i < x.length; i++) {
                    int ch = i % c;
                    y[i] = (float) ((x[i] - m[ch]) / Math.sqrt(v[ch] + eps) * g[ch] + b[ch]);
                }
                return Tensor.ofFloats(in.get(0).shape(), y);
            }
            default: {
                Tensor t = ConstantEvaluator.evaluate(n, in);
                if (t == null) {
                    throw new IllegalStateException("test evaluator cannot run " + n);
                }
                return t;
            }
        }
    }

    /** NHWC, stride 1, VALID; filter HWIO or (depthwise) [h, w, in, multiplier]. */
    static Tensor conv(Tensor x, Tensor f, boolean depthwise) {
        long[] xd = x.shape().dims();
        long[] fd = f.shape().dims();
        int n = (int) xd[0], h = (int) xd[1], w = (int) xd[2], ci = (int) xd[3];
        int kh = (int) fd[0], kw = (int) fd[1];
        int mult = (int) fd[3];
        int co = depthwise ? ci * mult : (int) fd[3];
        int oh = h - kh + 1, ow = w - kw + 1;
        float[] xv = x.floats();
        float[] fv = f.floats();
        float[] y = new float[n * oh * ow * co];
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    for (int o = 0; o < co; o++) {
                        double acc = 0;
                        for (int di = 0; di < kh; di++) {
                            for (int dj = 0; dj < kw; dj++) {
                                if (depthwise) {
                                    int c = o / mult, m = o % mult;
                                    acc += xv[((b * h + i + di) * w + j + dj) * ci + c]
                                            * fv[((di * kw + dj) * ci + c) * mult + m];
                                } else {
                                    for (int c = 0; c < ci; c++) {
                                        acc += xv[((b * h + i + di) * w + j + dj) * ci + c]
                                                * fv[((di * kw + dj) * ci + c) * co + o];
                                    }
                                }
                            }
                        }
                        y[((b * oh + i) * ow + j) * co + o] = (float) acc;
                    }
                }
            }
        }
        return Tensor.ofFloats(Shape.of(n, oh, ow, co), y);
    }

    static Tensor matmul(Tensor a, Tensor b, boolean transposeB) {
        int m = (int) a.shape().dim(0), k = (int) a.shape().dim(1);
        int nOut = (int) (transposeB ? b.shape().dim(0) : b.shape().dim(1));
        float[] av = a.floats();
        float[] bv = b.floats();
        float[] y = new float[m * nOut];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < nOut; j++) {
                double acc = 0;
                for (int q = 0; q < k; q++) {
                    acc += av[i * k + q] * (transposeB ? bv[j * k + q] : bv[q * nOut + j]);
                }
                y[i * nOut + j] = (float) acc;
            }
        }
        return Tensor.ofFloats(Shape.of(m, nOut), y);
    }

    static double maxRelError(Tensor a, Tensor b) {
        double[] x = a.asDoubles();
        double[] y = b.asDoubles();
        if (x.length != y.length) {
            throw new AssertionError("sizes differ: " + a + " vs " + b);
        }
        double max = 0;
        for (int i = 0; i < x.length; i++) {
            max = Math.max(max, Math.abs(x[i] - y[i]) / Math.max(1e-3, Math.abs(y[i])));
        }
        return max;
    }

    static AttrValue s(String v) {
        return AttrValue.of(v);
    }
}
