package dev.kiln.tensorflow.shapes;

import dev.kiln.graph.Shape;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Matrix products, bias, convolutions, pooling and batch normalization. */
final class NnShapes {
    private NnShapes() {
    }

    static void register(Map<String, ShapeRule> rules) {
        rules.put("MatMul", NnShapes::matMul);
        rules.put("BatchMatMul", NnShapes::batchMatMulV1);
        rules.put("BatchMatMulV2", NnShapes::batchMatMul);
        rules.put("BatchMatMulV3", NnShapes::batchMatMul);
        rules.put("Einsum", NnShapes::einsum);
        rules.put("BiasAdd", n -> biasAdd(n, n.stringAttr("data_format").equals("NCHW")));
        rules.put("BiasAddV1", n -> biasAdd(n, false));
        rules.put("Conv2D", n -> conv(n, false));
        rules.put("DepthwiseConv2dNative", n -> conv(n, true));
        rules.put("Conv2DBackpropInput", NnShapes::conv2dBackpropInput);
        rules.put("Conv3D", NnShapes::conv3d);
        rules.put("MaxPool3D", NnShapes::pool3d);
        rules.put("AvgPool3D", NnShapes::pool3d);
        rules.put("MaxPoolV2", NnShapes::poolV2);
        rules.put("MaxPool", NnShapes::pool);
        rules.put("AvgPool", NnShapes::pool);
        for (String op : List.of("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")) {
            rules.put(op, NnShapes::fusedBatchNorm);
        }
        rules.put("DepthToSpace", n -> spaceDepth(n, true));
        rules.put("SpaceToDepth", n -> spaceDepth(n, false));
    }

    private static List<Shape> matMul(NodeShapes n) {
        long[] a = n.shape(0).hasRank() ? n.dimsOfRank(0, 2) : new long[] {-1, -1};
        long[] b = n.shape(1).hasRank() ? n.dimsOfRank(1, 2) : new long[] {-1, -1};
        boolean ta = n.boolAttr("transpose_a");
        boolean tb = n.boolAttr("transpose_b");
        n.merge(ta ? a[0] : a[1], tb ? b[1] : b[0]);
        return NodeShapes.one(ta ? a[1] : a[0], tb ? b[0] : b[1]);
    }

    private static List<Shape> batchMatMul(NodeShapes n) {
        n.rank(0);
        n.rank(1);
        return batchMatMul(n, n.shape(0), n.shape(1));
    }

    /** BatchMatMulV2/V3: the batch dimensions broadcast. */
    private static List<Shape> batchMatMul(NodeShapes n, Shape sa, Shape sb) {
        int ra = sa.rank();
        int rb = sb.rank();
        if (ra < 2 || rb < 2) {
            throw n.giveUp("batch matmul of ranks " + ra + " and " + rb);
        }
        long[] a = sa.dims();
        long[] b = sb.dims();
        boolean adjX = n.boolAttr("adj_x");
        boolean adjY = n.boolAttr("adj_y");
        long rows = adjX ? a[ra - 1] : a[ra - 2];
        long cols = adjY ? b[rb - 2] : b[rb - 1];
        n.merge(adjX ? a[ra - 2] : a[ra - 1], adjY ? b[rb - 1] : b[rb - 2]);
        Shape batch = ElementwiseShapes.broadcast(n, Shape.of(java.util.Arrays.copyOf(a, ra - 2)),
                Shape.of(java.util.Arrays.copyOf(b, rb - 2)));
        long[] out = java.util.Arrays.copyOf(batch.dims(), batch.rank() + 2);
        out[out.length - 2] = rows;
        out[out.length - 1] = cols;
        return NodeShapes.one(out);
    }

    /** BatchMatMul (v1) does not broadcast: both inputs have the same rank and batch dimensions. */
    private static List<Shape> batchMatMulV1(NodeShapes n) {
        int r = n.rank(0);
        if (n.rank(1) != r) {
            throw n.giveUp("batch matmul of ranks " + r + " and " + n.rank(1));
        }
        long[] a = n.shape(0).dims();
        long[] b = n.shape(1).dims();
        for (int i = 0; i < r - 2; i++) {
            a[i] = n.merge(a[i], b[i]);
        }
        return batchMatMul(n, Shape.of(a), Shape.of(b));
    }

    private static List<Shape> biasAdd(NodeShapes n, boolean nchw) {
        int r = n.rank(0);
        long[] bias = n.shape(1).hasRank() ? n.dimsOfRank(1, 1) : new long[] {-1};
        if (r < (nchw ? 3 : 2)) {
            throw n.giveUp("bias add on rank " + r);
        }
        long[] out = n.shape(0).dims();
        int c = nchw ? 1 : r - 1;
        out[c] = n.merge(out[c], bias[0]);
        return NodeShapes.one(out);
    }

    /** Conv2D and DepthwiseConv2dNative, NHWC or NCHW, SAME or VALID padding. */
    private static List<Shape> conv(NodeShapes n, boolean depthwise) {
        long[] x = n.dimsOfRank(0, 4);
        long[] f = n.dimsOfRank(1, 4);
        Layout l = Layout.of(n);
        long[] strides = l.spatial(n, n.intsAttr("strides"));
        long[] dilations = n.hasAttr("dilations") ? l.spatial(n, n.intsAttr("dilations")) : new long[] {1, 1};
        long inC = n.merge(x[l.c], f[2]);
        long outC = depthwise ? NodeShapes.times(inC, f[3]) : f[3];
        long h = windowed(n, x[l.h], f[0], dilations[0], strides[0]);
        long w = windowed(n, x[l.w], f[1], dilations[1], strides[1]);
        return NodeShapes.one(l.shape(x[l.n], h, w, outC));
    }

    private static List<Shape> pool(NodeShapes n) {
        long[] x = n.dimsOfRank(0, 4);
        Layout l = Layout.of(n);
        long[] k = l.spatial(n, n.intsAttr("ksize"));
        long[] s = l.spatial(n, n.intsAttr("strides"));
        long h = windowed(n, x[l.h], k[0], 1, s[0]);
        long w = windowed(n, x[l.w], k[1], 1, s[1]);
        return NodeShapes.one(l.shape(x[l.n], h, w, x[l.c]));
    }

    /**
     * Einsum with an explicit output and no ellipsis: each label's size from the inputs that carry it (all known sizes
     * of one label equal), the output's labels in order.
     */
    private static List<Shape> einsum(NodeShapes n) {
        String eq = n.stringAttr("equation").replace(" ", "");
        int arrow = eq.indexOf("->");
        if (arrow < 0 || eq.contains(".")) {
            throw n.giveUp("equation '" + eq + "' (implicit output or ellipsis)");
        }
        String[] ins = eq.substring(0, arrow).split(",", -1);
        String out = eq.substring(arrow + 2);
        if (ins.length != n.inputCount()) {
            throw n.giveUp("equation '" + eq + "' for " + n.inputCount() + " inputs");
        }
        java.util.Map<Character, Long> size = new java.util.HashMap<>();
        for (int i = 0; i < ins.length; i++) {
            long[] d = n.shape(i).hasRank() ? n.shape(i).dims() : null;
            if (d == null || d.length != ins[i].length()) {
                throw n.giveUp("input " + i + " of shape " + n.shape(i) + " for labels '" + ins[i] + "'");
            }
            for (int k = 0; k < d.length; k++) {
                char c = ins[i].charAt(k);
                Long was = size.get(c);
                if (was != null && was >= 0 && d[k] >= 0 && !was.equals(d[k])) {
                    throw n.giveUp("label '" + c + "' is " + was + " and " + d[k]);
                }
                size.put(c, was == null || was < 0 ? d[k] : was);
            }
        }
        long[] o = new long[out.length()];
        for (int k = 0; k < o.length; k++) {
            Long d = size.get(out.charAt(k));
            if (d == null) {
                throw n.giveUp("output label '" + out.charAt(k) + "' is in no input");
            }
            o[k] = d;
        }
        return NodeShapes.one(o);
    }

    /** The transposed convolution's output is the shape it is given (input_sizes, a known 4-element vector). */
    private static List<Shape> conv2dBackpropInput(NodeShapes n) {
        long[] sizes = n.exactValue(0);
        if (sizes.length != 4) {
            throw n.giveUp("input_sizes of " + sizes.length + " values");
        }
        n.dimsOfRank(1, 4);
        n.dimsOfRank(2, 4);
        return NodeShapes.one(sizes);
    }

    /** Conv3D, NDHWC, SAME or VALID: filter [d, h, w, in, out]. */
    private static List<Shape> conv3d(NodeShapes n) {
        long[] x = n.dimsOfRank(0, 5);
        long[] f = n.dimsOfRank(1, 5);
        long[] strides = ndhwc(n, "strides");
        long[] dilations = ndhwc(n, "dilations");
        n.merge(x[4], f[3]);
        long[] out = new long[] {x[0], 0, 0, 0, f[4]};
        for (int i = 0; i < 3; i++) {
            out[i + 1] = windowed(n, x[i + 1], f[i], dilations[i], strides[i]);
        }
        return NodeShapes.one(out);
    }

    private static List<Shape> pool3d(NodeShapes n) {
        long[] x = n.dimsOfRank(0, 5);
        long[] k = ndhwc(n, "ksize");
        long[] s = ndhwc(n, "strides");
        long[] out = x.clone();
        for (int i = 0; i < 3; i++) {
            out[i + 1] = windowed(n, x[i + 1], k[i], 1, s[i]);
        }
        return NodeShapes.one(out);
    }

    /** The depth, height and width entries of a 5-element NDHWC attribute; other layouts give up. */
    private static long[] ndhwc(NodeShapes n, String attr) {
        if (!n.stringAttr("data_format").equals("NDHWC")) {
            throw n.giveUp("data_format " + n.stringAttr("data_format"));
        }
        long[] five = n.intsAttr(attr);
        if (five.length != 5) {
            throw n.giveUp(attr + " of " + five.length + " values");
        }
        return new long[] {five[1], five[2], five[3]};
    }

    /** MaxPoolV2: ksize and strides are inputs, known 4-element vectors. */
    private static List<Shape> poolV2(NodeShapes n) {
        long[] x = n.dimsOfRank(0, 4);
        Layout l = Layout.of(n);
        long[] k = l.spatial(n, n.exactValue(1));
        long[] s = l.spatial(n, n.exactValue(2));
        long h = windowed(n, x[l.h], k[0], 1, s[0]);
        long w = windowed(n, x[l.w], k[1], 1, s[1]);
        return NodeShapes.one(l.shape(x[l.n], h, w, x[l.c]));
    }

    /** TensorFlow's GetWindowedOutputSize for SAME and VALID padding; unknown in or window gives unknown. */
    private static long windowed(NodeShapes n, long in, long window, long dilation, long stride) {
        String padding = n.stringAttr("padding");
        if (stride <= 0 || dilation < 1) {
            throw n.giveUp("stride " + stride + ", dilation " + dilation);
        }
        if (in < 0) {
            return -1;
        }
        if (padding.equals("SAME")) {
            return (in + stride - 1) / stride;
        }
        if (!padding.equals("VALID")) {
            throw n.giveUp("padding " + padding);
        }
        if (window < 0) {
            return -1;
        }
        long effective = (window - 1) * dilation + 1;
        long out = (in - effective + stride) / stride;
        if (out < 0 || in < effective) {
            throw n.giveUp("window " + effective + " larger than input " + in);
        }
        return out;
    }

    /** DepthToSpace moves channels into blocks of height and width; SpaceToDepth the other way. */
    private static List<Shape> spaceDepth(NodeShapes n, boolean toSpace) {
        long[] x = n.dimsOfRank(0, 4);
        if (!n.stringAttr("data_format").equals("NHWC")) {
            throw n.giveUp("data_format " + n.stringAttr("data_format"));
        }
        long b = n.intAttr("block_size");
        if (b < 2) {
            throw n.giveUp("block_size " + b);
        }
        if (toSpace) {
            if (x[3] >= 0 && x[3] % (b * b) != 0) {
                throw n.giveUp("channels " + x[3] + " not divisible by " + b * b);
            }
            return NodeShapes.one(x[0], NodeShapes.times(x[1], b), NodeShapes.times(x[2], b),
                    x[3] < 0 ? -1 : x[3] / (b * b));
        }
        for (int i = 1; i <= 2; i++) {
            if (x[i] >= 0 && x[i] % b != 0) {
                throw n.giveUp("dimension " + x[i] + " not divisible by " + b);
            }
        }
        return NodeShapes.one(x[0], x[1] < 0 ? -1 : x[1] / b, x[2] < 0 ? -1 : x[2] / b, NodeShapes.times(x[3], b * b));
    }

    private static List<Shape> fusedBatchNorm(NodeShapes n) {
        long[] x = n.dimsOfRank(0, 4);
        Layout l = Layout.of(n);
        long c = x[l.c];
        int params = n.boolAttr("is_training") ? 3 : 5;
        for (int i = 1; i < params; i++) {
            long[] p = n.shape(i).hasRank() ? n.dimsOfRank(i, 1) : new long[] {-1};
            c = n.merge(c, p[0]);
        }
        x[l.c] = c;
        List<Shape> out = new ArrayList<>();
        out.add(Shape.of(x));
        for (int i = 1; i < Math.min(5, n.outputCount()); i++) {
            out.add(Shape.of(c));
        }
        if (n.outputCount() == 6) {
            out.add(Shape.unknown()); // FusedBatchNormV3's reserve_space_3
        }
        return out;
    }

    /** Where batch, height, width and channels are in a 4-D tensor of the node's data_format. */
    private record Layout(int n, int h, int w, int c) {
        static Layout of(NodeShapes node) {
            String f = node.stringAttr("data_format");
            if (f.equals("NHWC")) {
                return new Layout(0, 1, 2, 3);
            }
            if (f.equals("NCHW")) {
                return new Layout(0, 2, 3, 1);
            }
            throw node.giveUp("data_format " + f);
        }

        /** The height and width entries of a 4-element attribute (strides, ksize, dilations). */
        long[] spatial(NodeShapes node, long[] four) {
            if (four.length != 4) {
                throw node.giveUp("an attribute of " + four.length + " elements where 4 are expected");
            }
            return new long[] {four[h], four[w]};
        }

        long[] shape(long batch, long height, long width, long channels) {
            long[] d = new long[4];
            d[n] = batch;
            d[h] = height;
            d[w] = width;
            d[c] = channels;
            return d;
        }
    }
}
