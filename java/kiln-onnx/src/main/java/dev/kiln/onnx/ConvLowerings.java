package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.quant.QuantParams;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.F16;
import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.OnnxEmitter.attrs;
import static dev.kiln.onnx.OnnxEmitter.permute;

/** Convolutions (2-D, depthwise, transposed, 3-D) and the bias that follows them. */
final class ConvLowerings {
    private ConvLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("Conv2D", "Conv (NCHW, OIHW weights)", 1, ConvLowerings::conv);
        t.add("DepthwiseConv2dNative", "Conv group=in (weights [in*mult,1,h,w])", 1, ConvLowerings::conv);
        t.add("Conv2DBackpropInput", "ConvTranspose (NCHW, pads and output_padding from input_sizes)", 1,
                ConvLowerings::convTranspose);
        t.add("Conv3D", "Transpose + Conv (NCDHW) + Transpose", 1, ConvLowerings::conv3d);
        t.add("BiasAdd", "Conv bias input, or Add", 1, ConvLowerings::biasAdd);
        t.add("BiasAddV1", "Conv bias input, or Add", 1, ConvLowerings::biasAdd);
    }

    static boolean nhwc(Node n) {
        return n.attrString("data_format", "NHWC").equals("NHWC");
    }

    /** The spatial (H, W) entries of a 4-entry TF attribute in NHWC or NCHW order. */
    static long[] spatial(Node n, String key, boolean nhwc) {
        long[] v = n.attrInts(key, new long[] {1, 1, 1, 1});
        return nhwc ? new long[] {v[1], v[2]} : new long[] {v[2], v[3]};
    }

    static List<AttributeProto> padding(Node n, boolean nhwc) {
        String p = n.attrString("padding", "VALID");
        return switch (p) {
            case "SAME" -> List.of(attr("auto_pad", "SAME_UPPER"));
            case "VALID" -> List.of(attrs("pads", 0, 0, 0, 0));
            case "EXPLICIT" -> {
                long[] e = n.attrInts("explicit_paddings");
                int h = nhwc ? 1 : 2;
                int w = nhwc ? 2 : 3;
                yield List.of(attrs("pads", e[2 * h], e[2 * w], e[2 * h + 1], e[2 * w + 1]));
            }
            default -> throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): padding " + p);
        };
    }

    private static void conv(OnnxEmitter e, Node n) {
        boolean nhwc = nhwc(n);
        int ct = e.computeType(n);
        Val x = e.get(n.input(0), nhwc ? Layout.NCHW : Layout.NATIVE, ct);
        QuantParams q = e.quant(n, n.input(0));
        if (q != null) {
            x = e.qdq(x, q);
        }
        Tensor w = e.requireConst(n, 1, "filter");
        long[] d = w.shape().dims();
        boolean depthwise = n.op().equals("DepthwiseConv2dNative");
        Tensor wo;
        long group = 1;
        if (depthwise) {
            wo = permute(w.reshape(Shape.of(d[0], d[1], 1, d[2] * d[3])), new int[] {3, 2, 0, 1});
            group = d[2];
        } else {
            wo = permute(w, new int[] {3, 2, 0, 1});
        }
        String wn = e.weight(n, n.input(1).node(), wo, 0, ct);
        float[] ws = e.lastWeightScales();
        List<AttributeProto> a = new ArrayList<>();
        a.add(attrs("kernel_shape", d[0], d[1]));
        a.add(attrs("strides", spatial(n, "strides", nhwc)));
        a.add(attrs("dilations", spatial(n, "dilations", nhwc)));
        a.add(attr("group", group));
        a.addAll(padding(n, nhwc));
        String out = e.add("Conv", n.name(), List.of(x.name(), wn), a.toArray(new AttributeProto[0]));
        float[] sc = null;
        if (e.ortInt8() && q != null && q.perTensor()) {
            sc = new float[ws.length + 1];
            sc[0] = q.scale()[0];
            System.arraycopy(ws, 0, sc, 1, ws.length);
        }
        e.markConv(out, sc);
        e.put(n, 0, new Val(out, nhwc ? Layout.NCHW : Layout.NATIVE, ct, 4));
    }

    /**
     * TF's input gradient of a convolution is ONNX ConvTranspose. The output size comes from input_sizes: pads are
     * the forward convolution's, and what they leave short goes into output_padding.
     */
    private static void convTranspose(OnnxEmitter e, Node n) {
        boolean nhwc = nhwc(n);
        int ct = e.computeType(n);
        long[] sizes = e.requireConst(n, 0, "input_sizes").asLongs();
        Tensor w = e.requireConst(n, 1, "filter");
        long[] k = w.shape().dims();
        TensorType it = e.typeOf(n.input(2));
        int h = nhwc ? 1 : 2;
        if (it == null || !it.shape().hasRank() || it.shape().dim(h) < 0 || it.shape().dim(h + 1) < 0) {
            throw KilnException.unsupported("node '" + n.name() + "' (Conv2DBackpropInput): the spatial size of "
                    + "out_backprop " + n.input(2) + " must be known for ONNX export (it is " + it + ")");
        }
        long[] in = {it.shape().dim(h), it.shape().dim(h + 1)};
        long[] out = {sizes[h], sizes[h + 1]};
        long[] s = spatial(n, "strides", nhwc);
        long[] dil = spatial(n, "dilations", nhwc);
        String p = n.attrString("padding", "VALID");
        long[] pads = new long[4];
        long[] extra = new long[2];
        for (int i = 0; i < 2; i++) {
            long full = s[i] * (in[i] - 1) + dil[i] * (k[i] - 1) + 1;
            long total = switch (p) {
                case "SAME" -> Math.max(full - out[i], 0);
                case "VALID" -> 0;
                case "EXPLICIT" -> {
                    long[] ep = n.attrInts("explicit_paddings");
                    pads[i] = ep[2 * (h + i)];
                    yield ep[2 * (h + i)] + ep[2 * (h + i) + 1];
                }
                default -> throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): padding " + p);
            };
            if (!p.equals("EXPLICIT")) {
                pads[i] = total / 2;
            }
            pads[i + 2] = total - pads[i];
            extra[i] = out[i] - (full - total);
            if (extra[i] < 0) {
                throw KilnException.unsupported("node '" + n.name() + "' (Conv2DBackpropInput): input_sizes "
                        + out[i] + " is smaller than the transposed convolution gives (" + (full - total) + ")");
            }
        }
        Val x = e.get(n.input(2), nhwc ? Layout.NCHW : Layout.NATIVE, ct);
        String wn = e.weight(n, n.input(1).node(), permute(w, new int[] {3, 2, 0, 1}), 1, ct);
        String y = e.add("ConvTranspose", n.name(), List.of(x.name(), wn), attrs("kernel_shape", k[0], k[1]),
                attrs("strides", s), attrs("dilations", dil), attrs("pads", pads), attrs("output_padding", extra));
        e.put(n, 0, new Val(y, nhwc ? Layout.NCHW : Layout.NATIVE, ct, 4));
    }

    /** NDHWC has no layout of its own in the emitter: transpose to NCDHW around the Conv. */
    private static void conv3d(OnnxEmitter e, Node n) {
        if (!n.attrString("data_format", "NDHWC").equals("NDHWC")) {
            throw KilnException.unsupported("node '" + n.name() + "' (Conv3D): only data_format NDHWC is exported");
        }
        int ct = e.computeType(n);
        Val x = e.get(n.input(0), Layout.NATIVE, ct);
        String xt = e.add("Transpose", n.name() + "/ncdhw", List.of(x.name()), attrs("perm", 0, 4, 1, 2, 3));
        Tensor w = e.requireConst(n, 1, "filter");
        long[] k = w.shape().dims();
        String wn = e.weight(n, n.input(1).node(), permute(w, new int[] {4, 3, 0, 1, 2}), 0, ct);
        long[] st = n.attrInts("strides", new long[] {1, 1, 1, 1, 1});
        long[] dl = n.attrInts("dilations", new long[] {1, 1, 1, 1, 1});
        String p = n.attrString("padding", "VALID");
        AttributeProto pad = switch (p) {
            case "SAME" -> attr("auto_pad", "SAME_UPPER");
            case "VALID" -> attrs("pads", 0, 0, 0, 0, 0, 0);
            default -> throw KilnException.unsupported("node '" + n.name() + "' (Conv3D): padding " + p);
        };
        String c = e.add("Conv", n.name() + "/conv", List.of(xt, wn), attrs("kernel_shape", k[0], k[1], k[2]),
                attrs("strides", st[1], st[2], st[3]), attrs("dilations", dl[1], dl[2], dl[3]), pad);
        String y = e.add("Transpose", n.name(), List.of(c), attrs("perm", 0, 2, 3, 4, 1));
        e.put(n, 0, new Val(y, Layout.NATIVE, ct, 5));
    }

    private static void biasAdd(OnnxEmitter e, Node n) {
        int ct = e.computeType(n);
        Val x = e.get(n.input(0), Layout.ANY, ct);
        Tensor b = e.constOf(n.input(1));
        NodeProto.Builder conv = e.convNode(x.name());
        if (b != null && conv != null && conv.getInputCount() == 2 && e.uses(n.input(0)) == 1
                && b.shape().rank() == 1) {
            float[] sc = e.convScales(x.name());
            if (sc != null && sc.length == b.numElements() + 1) { // int32 bias, scale = input scale × weight scale
                conv.addInput(int32Bias(e, n.input(1).node(), OnnxTensors.floats(b), sc));
            } else {
                conv.addInput(e.init(n.input(1).node(), ct == F16 ? OnnxTensors.toHalf(b)
                        : Tensor.ofFloats(b.shape(), OnnxTensors.floats(b))));
            }
            e.put(n, 0, x);
            return;
        }
        boolean channelFirst = x.layout() == Layout.NCHW || !nhwc(n);
        String bn;
        if (channelFirst) {
            if (b != null) {
                Tensor bc = b.reshape(Shape.of(b.numElements(), 1, 1));
                bn = e.init(n.input(1).node(), ct == F16 ? OnnxTensors.toHalf(bc)
                        : Tensor.ofFloats(bc.shape(), OnnxTensors.floats(bc)));
            } else {
                Val bv = e.get(n.input(1), Layout.NATIVE, ct);
                bn = e.add("Unsqueeze", bv.name() + "/chw", List.of(bv.name(), e.initLongs(bv.name() + "/axes", 1, 2)));
            }
        } else {
            bn = e.get(n.input(1), Layout.NATIVE, ct).name();
        }
        e.put(n, 0, new Val(e.add("Add", n.name(), List.of(x.name(), bn)), x.layout(), ct, x.rank()));
    }

    /** A bias as int32 codes with per-channel scale {@code sc[0] * sc[1 + c]} (zero point 0) → DequantizeLinear. */
    private static String int32Bias(OnnxEmitter e, String hint, float[] b, float[] sc) {
        float[] scale = new float[b.length];
        int[] codes = new int[b.length];
        for (int c = 0; c < b.length; c++) {
            scale[c] = sc[0] * sc[1 + c];
            codes[c] = (int) Math.max(Integer.MIN_VALUE + 1, Math.min(Integer.MAX_VALUE, Math.rint(b[c] / scale[c])));
        }
        String qb = e.init(hint + "/int32", Tensor.ofInts(Shape.of(b.length), codes));
        String s = e.init(hint + "/scale", Tensor.ofFloats(Shape.of(b.length), scale));
        return e.add("DequantizeLinear", hint + "/dequantized", List.of(qb, s), attr("axis", 0L));
    }
}
