package dev.kiln.onnx;

import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static dev.kiln.onnx.OnnxEmitter.BOOL;
import static dev.kiln.onnx.OnnxEmitter.I32;
import static dev.kiln.onnx.OnnxEmitter.I64;
import static dev.kiln.onnx.OnnxEmitter.NHWC_AXIS_IN_NCHW;
import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.OnnxEmitter.attrs;

/**
 * Reductions over constant axes (an NCHW input is reduced in place where the order of the result allows),
 * arg-max/min and the cumulative sum.
 */
final class ReduceLowerings {
    private ReduceLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        reduce(t, "Mean", "ReduceMean", false);
        reduce(t, "Sum", "ReduceSum", false);
        reduce(t, "Max", "ReduceMax", false);
        reduce(t, "Min", "ReduceMin", false);
        reduce(t, "Prod", "ReduceProd", false);
        reduce(t, "EuclideanNorm", "ReduceL2", false);
        reduce(t, "All", "ReduceMin", true);
        reduce(t, "Any", "ReduceMax", true);
        t.add("ArgMax", "ArgMax (+Cast to int32)", 12, ReduceLowerings::arg);
        t.add("ArgMin", "ArgMin (+Cast to int32)", 12, ReduceLowerings::arg);
        t.add("Cumsum", "CumSum", 11, ReduceLowerings::cumsum);
    }

    private static void reduce(OnnxLowerings.Table t, String tfOp, String onnxOp, boolean bool) {
        String what = bool ? "Cast to int32 + " + onnxOp + " + Cast to bool" : onnxOp;
        t.add(tfOp, what, onnxOp.equals("ReduceSum") ? 13 : 1, (e, n) -> reduce(e, n, onnxOp, bool));
    }

    private static void reduce(OnnxEmitter e, Node n, String onnxOp, boolean bool) {
        long[] axes = e.requireConst(n, 1, "reduction axes").asLongs();
        boolean keep = n.attrBool("keep_dims", false);
        if (axes.length == 0) {
            e.alias(n, 0, n.input(0));
            return;
        }
        Layout l = e.layoutOf(n.input(0));
        int rank = e.rankOf(n.input(0));
        long[] ax = axes.clone();
        Layout outLayout = Layout.NATIVE;
        if (l == Layout.NCHW) {
            Set<Integer> reduced = new HashSet<>();
            for (int i = 0; i < ax.length; i++) {
                int a = (int) (ax[i] < 0 ? ax[i] + 4 : ax[i]);
                reduced.add(a);
                ax[i] = NHWC_AXIS_IN_NCHW[a];
            }
            boolean channelKept = !reduced.contains(3);
            boolean spatialKept = !reduced.contains(1) || !reduced.contains(2);
            if (keep) {
                outLayout = Layout.NCHW;
            } else if (channelKept && spatialKept) {
                l = Layout.NATIVE; // kept dims would come out in another order: reduce in NHWC instead
                ax = axes.clone();
            }
        }
        Val x = e.get(n.input(0), l == Layout.NCHW ? Layout.NCHW : Layout.NATIVE, bool ? -1 : e.computeType(n));
        String xn = bool ? e.castTo(x, I32).name() : x.name();
        String name = bool ? n.name() + "/int" : n.name();
        String out;
        if (e.opset() >= 18 || onnxOp.equals("ReduceSum")) {
            out = e.add(onnxOp, name, List.of(xn, e.initLongs(n.name() + "/axes", ax)), attr("keepdims", keep ? 1 : 0));
        } else {
            out = e.add(onnxOp, name, List.of(xn), attrs("axes", ax), attr("keepdims", keep ? 1 : 0));
        }
        if (bool) {
            out = e.add("Cast", n.name(), List.of(out), attr("to", (long) BOOL));
        }
        int outRank = rank < 0 ? -1 : keep ? rank : rank - axes.length;
        e.put(n, 0, new Val(out, outLayout, bool ? BOOL : x.type(), outRank));
    }

    private static void arg(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        long axis = e.requireConst(n, 1, "dimension").asLongs()[0];
        DType ot = n.attr("output_type") instanceof AttrValue.Type t ? t.value() : DType.INT64;
        String out = e.add(n.op(), ot == DType.INT64 ? n.name() : n.name() + "/int64", List.of(x.name()),
                attr("axis", axis), attr("keepdims", 0L));
        Val v = new Val(out, Layout.NATIVE, I64, x.rank() < 0 ? -1 : x.rank() - 1);
        if (ot != DType.INT64) {
            int type = OnnxTensors.onnxType(ot);
            v = new Val(e.add("Cast", n.name(), List.of(out), attr("to", (long) type)), Layout.NATIVE, type, v.rank());
        }
        e.put(n, 0, v);
    }

    private static void cumsum(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        TensorRef axis = n.input(1);
        Val a = e.get(axis, Layout.NATIVE, -1);
        String out = e.add("CumSum", n.name(), List.of(x.name(), a.name()),
                attr("exclusive", n.attrBool("exclusive", false) ? 1L : 0L),
                attr("reverse", n.attrBool("reverse", false) ? 1L : 0L));
        e.put(n, 0, new Val(out, Layout.NATIVE, x.type(), x.rank()));
    }
}
