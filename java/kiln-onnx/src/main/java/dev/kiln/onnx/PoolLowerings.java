package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.Node;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.quant.QuantParams;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.OnnxEmitter.attrs;

/** Max and average pooling, 2-D (NCHW layout) and 3-D (transposed to NCDHW around the pool). */
final class PoolLowerings {
    private PoolLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("MaxPool", "MaxPool (NCHW)", 1, PoolLowerings::pool);
        t.add("AvgPool", "AveragePool (NCHW, count_include_pad=0)", 1, PoolLowerings::pool);
        t.add("MaxPoolV2", "MaxPool (NCHW; ksize and strides from constant inputs)", 1, (e, n) -> pool(e,
                n.toBuilder().op("MaxPool").attr("ksize", AttrValue.ofInts(e.requireConst(n, 1, "ksize").asLongs()))
                        .attr("strides", AttrValue.ofInts(e.requireConst(n, 2, "strides").asLongs())).build()));
        t.add("MaxPool3D", "Transpose + MaxPool (NCDHW) + Transpose", 1, PoolLowerings::pool3d);
        t.add("AvgPool3D", "Transpose + AveragePool (NCDHW) + Transpose", 1, PoolLowerings::pool3d);
    }

    private static void pool(OnnxEmitter e, Node n) {
        boolean nhwc = ConvLowerings.nhwc(n);
        Val x = e.get(n.input(0), nhwc ? Layout.NCHW : Layout.NATIVE, e.computeType(n));
        QuantParams q = e.ortInt8() ? e.quant(n, n.input(0)) : null;
        if (q != null) {
            x = e.qdq(x, q);
        }
        List<AttributeProto> a = new ArrayList<>();
        a.add(attrs("kernel_shape", ConvLowerings.spatial(n, "ksize", nhwc)));
        a.add(attrs("strides", ConvLowerings.spatial(n, "strides", nhwc)));
        a.addAll(ConvLowerings.padding(n, nhwc));
        String onnxOp = n.op().equals("MaxPool") ? "MaxPool" : "AveragePool";
        e.put(n, 0, new Val(e.add(onnxOp, n.name(), List.of(x.name()), a.toArray(new AttributeProto[0])),
                nhwc ? Layout.NCHW : Layout.NATIVE, x.type(), 4));
    }

    private static void pool3d(OnnxEmitter e, Node n) {
        if (!n.attrString("data_format", "NDHWC").equals("NDHWC")) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): only NDHWC is exported");
        }
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        String xt = e.add("Transpose", n.name() + "/ncdhw", List.of(x.name()), attrs("perm", 0, 4, 1, 2, 3));
        long[] k = n.attrInts("ksize");
        long[] s = n.attrInts("strides");
        String p = n.attrString("padding", "VALID");
        AttributeProto pad = p.equals("SAME") ? attr("auto_pad", "SAME_UPPER") : attrs("pads", 0, 0, 0, 0, 0, 0);
        String onnxOp = n.op().equals("MaxPool3D") ? "MaxPool" : "AveragePool";
        String y = e.add(onnxOp, n.name() + "/pool", List.of(xt), attrs("kernel_shape", k[1], k[2], k[3]),
                attrs("strides", s[1], s[2], s[3]), pad);
        e.put(n, 0, new Val(e.add("Transpose", n.name(), List.of(y), attrs("perm", 0, 2, 3, 4, 1)), Layout.NATIVE,
                x.type(), 5));
    }
}
