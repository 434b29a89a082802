package dev.kiln.onnx;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;

import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.BOOL;
import static dev.kiln.onnx.OnnxEmitter.I64;
import static dev.kiln.onnx.OnnxEmitter.attrs;
import static dev.kiln.onnx.UnaryLowerings.onnx;
import static dev.kiln.onnx.UnaryLowerings.unary;

/** Comparisons, boolean logic, NaN/infinity tests and selection (Where). */
final class LogicLowerings {
    private LogicLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        String[][] cmp = {{"Equal", "Equal", "11"}, {"Less", "Less", "9"}, {"Greater", "Greater", "9"},
            {"LessEqual", "LessOrEqual", "12"}, {"GreaterEqual", "GreaterOrEqual", "12"},
            {"LogicalAnd", "And", "7"}, {"LogicalOr", "Or", "7"}};
        for (String[] p : cmp) {
            t.add(p[0], p[1], Integer.parseInt(p[2]), (e, n) -> BinaryLowerings.binary(e, n, (e2, n2, a, b) ->
                    e2.add(p[1], n2.name(), List.of(a.name(), b.name())), BOOL));
        }
        t.add("NotEqual", "Not(Equal)", 11, (e, n) -> BinaryLowerings.binary(e, n, (e2, n2, a, b) ->
                e2.add("Not", n2.name(), List.of(e2.add("Equal", n2.name() + "/equal", List.of(a.name(),
                        b.name())))), BOOL));
        t.add("LogicalNot", "Not", 1, (e, n) -> unary(e, n, onnx("Not"), BOOL));
        t.add("IsNan", "IsNaN", 13, (e, n) -> unary(e, n, onnx("IsNaN"), BOOL));
        t.add("IsInf", "IsInf", 10, (e, n) -> unary(e, n, onnx("IsInf"), BOOL));
        t.add("IsFinite", "Not(Or(IsNaN, IsInf))", 13, (e, n) -> unary(e, n, (e2, n2, x) -> e2.add("Not", n2.name(),
                List.of(e2.add("Or", n2.name() + "/nonfinite", List.of(e2.add("IsNaN", n2.name() + "/nan",
                        List.of(x.name())), e2.add("IsInf", n2.name() + "/inf", List.of(x.name())))))), BOOL));
        t.add("SelectV2", "Where", 9, LogicLowerings::select);
        t.add("Select", "Where (a vector condition unsqueezed to pick rows)", 13, LogicLowerings::select);
        t.add("Where", "NonZero + Transpose", 9, LogicLowerings::where);
    }

    private static void select(OnnxEmitter e, Node n) {
        int ct = e.computeType(n);
        int rx = e.rankOf(n.input(1));
        int rc = e.rankOf(n.input(0));
        // Select (v1) with a vector condition picks whole rows: it does not broadcast like Where
        boolean rows = n.op().equals("Select") && rc == 1 && rx > 1;
        Layout use = rows ? Layout.NATIVE : BinaryLowerings.commonLayout(e, List.of(n.input(0), n.input(1),
                n.input(2)));
        Val c = e.get(n.input(0), use, -1);
        Val x = e.get(n.input(1), use, ct);
        Val y = e.get(n.input(2), use, ct);
        String cn = c.name();
        if (rows) {
            long[] axes = new long[rx - 1];
            for (int i = 0; i < axes.length; i++) {
                axes[i] = i + 1;
            }
            cn = e.add("Unsqueeze", n.name() + "/rows", List.of(cn, e.initLongs(n.name() + "/axes", axes)));
        }
        int rank = Math.max(Math.max(c.rank(), x.rank()), y.rank());
        if (c.rank() < 0 || x.rank() < 0 || y.rank() < 0) {
            rank = -1;
        }
        e.put(n, 0, new Val(e.add("Where", n.name(), List.of(cn, x.name(), y.name())), use, x.type(), rank));
    }

    private static void where(OnnxEmitter e, Node n) {
        TensorRef in = n.input(0);
        Val x = e.get(in, Layout.NATIVE, -1);
        String nz = e.add("NonZero", n.name() + "/nonzero", List.of(x.name()));
        e.put(n, 0, new Val(e.add("Transpose", n.name(), List.of(nz), attrs("perm", 1, 0)), Layout.NATIVE, I64, 2));
    }
}
