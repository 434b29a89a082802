package dev.kiln.onnx;

import dev.kiln.graph.Node;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.OnnxEmitter.attrs;

/** Normalization over channels: batch norm (inference and batch statistics) and local response normalization. */
final class NormLowerings {
    private NormLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        for (String op : new String[] {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}) {
            t.add(op, "BatchNormalization (NCHW); is_training: batch statistics by ReduceMean", 9,
                    NormLowerings::batchNorm);
        }
        t.add("LRN", "LRN (NCHW, size 2r+1, alpha x size)", 1, NormLowerings::lrn);
    }

    private static void batchNorm(OnnxEmitter e, Node n) {
        boolean nhwc = ConvLowerings.nhwc(n);
        int ct = e.computeType(n);
        Val x = e.get(n.input(0), nhwc ? Layout.NCHW : Layout.NATIVE, ct);
        if (n.attrBool("is_training", true)) {
            batchStatistics(e, n, x, ct, nhwc);
            return;
        }
        List<String> ins = new ArrayList<>(List.of(x.name()));
        for (int i = 1; i <= 4; i++) {
            ins.add(e.get(n.input(i), Layout.NATIVE, ct).name());
        }
        String out = e.add("BatchNormalization", n.name(), ins, attr("epsilon", n.attrFloat("epsilon", 1e-3f)));
        e.put(n, 0, new Val(out, nhwc ? Layout.NCHW : Layout.NATIVE, ct, 4));
    }

    /**
     * is_training=true normalizes with the statistics of the batch itself (biased variance over every axis but the
     * channel). Keras' LayerNormalization computes this way on a [1, rows, features, 1] NCHW view, so a Keras model
     * needs it at inference too. Only output 0 (y) is lowered; the batch statistics outputs are training-only.
     */
    private static void batchStatistics(OnnxEmitter e, Node n, Val x, int ct, boolean nhwc) {
        String mean = meanOverBatch(e, n.name() + "/mean", x.name());
        String d = e.add("Sub", n.name() + "/centered", List.of(x.name(), mean));
        String var = meanOverBatch(e, n.name() + "/variance", e.add("Mul", n.name() + "/squared", List.of(d, d)));
        String std = e.add("Sqrt", n.name() + "/std", List.of(e.add("Add", n.name() + "/var_eps", List.of(var,
                e.scalar(n.name() + "/epsilon", ct, n.attrFloat("epsilon", 1e-3f))))));
        String norm = e.add("Div", n.name() + "/normalized", List.of(d, std));
        String[] so = new String[2];
        for (int i = 0; i < 2; i++) { // scale and offset per channel, broadcast along NCHW's dim 1
            Val v = e.get(n.input(1 + i), Layout.NATIVE, ct);
            so[i] = e.add("Unsqueeze", v.name() + "/chw", List.of(v.name(), e.initLongs(n.name() + "/chw" + i, 1, 2)));
        }
        String y = e.add("Add", n.name(), List.of(e.add("Mul", n.name() + "/scaled", List.of(norm, so[0])), so[1]));
        e.put(n, 0, new Val(y, nhwc ? Layout.NCHW : Layout.NATIVE, ct, 4));
    }

    /** ReduceMean over NCHW's axes 0, 2, 3 (kept); the axes are an input from opset 18 on, an attribute before. */
    private static String meanOverBatch(OnnxEmitter e, String hint, String x) {
        return e.opset() >= 18
                ? e.add("ReduceMean", hint, List.of(x, e.initLongs(hint + "/axes", 0, 2, 3)), attr("keepdims", 1L))
                : e.add("ReduceMean", hint, List.of(x), attrs("axes", 0, 2, 3), attr("keepdims", 1L));
    }

    private static void lrn(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NCHW, e.computeType(n));
        long r = n.attrInt("depth_radius", 5);
        long size = 2 * r + 1;
        String out = e.add("LRN", n.name(), List.of(x.name()), attr("size", size),
                attr("alpha", n.attrFloat("alpha", 1f) * size), attr("beta", n.attrFloat("beta", 0.5f)),
                attr("bias", n.attrFloat("bias", 1f)));
        e.put(n, 0, new Val(out, Layout.NCHW, x.type(), 4));
    }
}
