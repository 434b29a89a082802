package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;
import dev.kiln.quant.QuantParams;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.NHWC_AXIS_IN_NCHW;
import static dev.kiln.onnx.OnnxEmitter.TO_NCHW;
import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.OnnxEmitter.attrs;

/** Rearranging and joining tensors: transpose, concat and stack, pad. An NCHW input stays NCHW where it can. */
final class ConcatLowerings {
    private ConcatLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("Transpose", "Transpose", 1, ConcatLowerings::transpose);
        t.add("ConjugateTranspose", "Transpose (real tensors)", 1, ConcatLowerings::transpose);
        t.add("ConcatV2", "Concat", 1, (e, n) -> concat(e, n, 0, n.numDataInputs() - 1, n.numDataInputs() - 1));
        t.add("Concat", "Concat", 1, (e, n) -> concat(e, n, 1, n.numDataInputs() - 1, 0));
        t.add("Pack", "Unsqueeze + Concat", 13, ConcatLowerings::pack);
        t.add("Pad", "Pad (constant)", 11, (e, n) -> pad(e, n, "constant"));
        t.add("PadV2", "Pad (constant value)", 11, (e, n) -> pad(e, n, "constant"));
        t.add("MirrorPad", "Pad (reflect; SYMMETRIC is not exported)", 11, (e, n) -> pad(e, n, "reflect"));
    }

    private static void transpose(OnnxEmitter e, Node n) {
        long[] perm = e.requireConst(n, 1, "perm").asLongs();
        Val x = e.get(n.input(0), Layout.ANY, -1);
        if (x.layout() == Layout.NCHW && perm.length == 4) {
            long[] p = new long[4];
            for (int i = 0; i < 4; i++) {
                p[i] = NHWC_AXIS_IN_NCHW[(int) perm[i]];
            }
            perm = p;
        }
        e.put(n, 0, new Val(e.add("Transpose", n.name(), List.of(x.name()), attrs("perm", perm)), Layout.NATIVE,
                x.type(), perm.length));
    }

    /** Concat of inputs first..first+count-1 along the constant axis in input {@code axisInput}. */
    private static void concat(OnnxEmitter e, Node n, int first, int count, int axisInput) {
        long axis = e.requireConst(n, axisInput, "axis").asLongs()[0];
        int ct = e.computeType(n);
        boolean anyNchw = false;
        boolean all4 = true;
        for (int i = first; i < first + count; i++) {
            anyNchw |= e.layoutOf(n.input(i)) == Layout.NCHW;
            all4 &= e.rankOf(n.input(i)) == 4;
        }
        Layout use = anyNchw && all4 ? Layout.NCHW : Layout.NATIVE;
        if (use == Layout.NCHW) {
            axis = NHWC_AXIS_IN_NCHW[(int) (axis < 0 ? axis + 4 : axis)];
        }
        List<String> ins = new ArrayList<>();
        int type = 0;
        int rank = -1;
        for (int i = first; i < first + count; i++) {
            Val v = e.get(n.input(i), use, ct);
            QuantParams q = e.ortInt8() ? e.quant(n, n.input(i)) : null;
            if (q != null) {
                v = e.qdq(v, q);
            }
            ins.add(v.name());
            type = v.type();
            rank = Math.max(rank, v.rank());
        }
        e.put(n, 0, new Val(e.add("Concat", n.name(), ins, attr("axis", axis)), use, type, rank));
    }

    private static void pack(OnnxEmitter e, Node n) {
        long axis = n.attrInt("axis", 0);
        int ct = e.computeType(n);
        List<String> parts = new ArrayList<>();
        int type = 0;
        int rank = -1;
        String axes = null;
        for (int i = 0; i < n.numDataInputs(); i++) {
            Val v = e.get(n.input(i), Layout.NATIVE, ct);
            if (axes == null) {
                axes = e.initLongs(n.name() + "/axes", axis);
            }
            parts.add(e.add("Unsqueeze", n.name() + "/part" + i, List.of(v.name(), axes)));
            type = v.type();
            rank = v.rank() < 0 ? -1 : v.rank() + 1;
        }
        String out = parts.size() == 1 ? e.add("Identity", n.name(), parts)
                : e.add("Concat", n.name(), parts, attr("axis", axis));
        e.put(n, 0, new Val(out, Layout.NATIVE, type, rank));
    }

    private static void pad(OnnxEmitter e, Node n, String mode) {
        if (n.op().equals("MirrorPad") && !n.attrString("mode", "REFLECT").equals("REFLECT")) {
            throw KilnException.unsupported("node '" + n.name() + "' (MirrorPad): mode " + n.attrString("mode", "")
                    + " has no ONNX Pad mode (only REFLECT is exported)");
        }
        Tensor p = e.requireConst(n, 1, "paddings");
        long[] pv = p.asLongs();
        int r = (int) p.shape().dim(0);
        Layout l = e.layoutOf(n.input(0)) == Layout.NCHW && r == 4 ? Layout.NCHW : Layout.NATIVE;
        int ct = e.computeType(n);
        Val x = e.get(n.input(0), l, ct);
        long[] pads = new long[2 * r];
        for (int i = 0; i < r; i++) {
            int src = l == Layout.NCHW ? TO_NCHW[i] : i;
            pads[i] = pv[2 * src];
            pads[r + i] = pv[2 * src + 1];
        }
        List<String> ins = new ArrayList<>(List.of(x.name(), e.initLongs(n.name() + "/pads", pads)));
        if (n.op().equals("PadV2")) {
            ins.add(e.get(n.input(2), Layout.NATIVE, ct).name());
        }
        e.put(n, 0, new Val(e.add("Pad", n.name(), ins, attr("mode", mode)), l, x.type(), r));
    }
}
