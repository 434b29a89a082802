package dev.kiln.onnx;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;
import dev.kiln.quant.QuantParams;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.OnnxEmitter.isFloat;

/**
 * Elementwise ops of two (or n) tensors with broadcasting. Operands stay NCHW when every one of them can (a 4-D
 * NCHW tensor, a scalar, or a constant of rank <= 4, which is permuted at export).
 */
final class BinaryLowerings {
    private BinaryLowerings() {
    }

    /** Builds the output of one binary op from its two operands (already in a common layout and type). */
    interface Body {
        String build(OnnxEmitter e, Node n, Val a, Val b);
    }

    static void register(OnnxLowerings.Table t) {
        simple(t, "Add", "Add");
        simple(t, "AddV2", "Add");
        simple(t, "Sub", "Sub");
        simple(t, "Mul", "Mul");
        simple(t, "RealDiv", "Div");
        simple(t, "Div", "Div");
        simple(t, "TruncateDiv", "Div");
        simple(t, "Maximum", "Max");
        simple(t, "Minimum", "Min");
        simple(t, "Pow", "Pow");
        for (String op : new String[] {"BitwiseAnd", "BitwiseOr", "BitwiseXor"}) {
            t.add(op, op, 18, (e, n) -> binary(e, n, (e2, n2, a, b) -> e2.add(op, n2.name(), List.of(a.name(),
                    b.name()))));
        }
        t.add("SquaredDifference", "Sub + Mul", 1, (e, n) -> binary(e, n, (e2, n2, a, b) -> {
            String d = e2.add("Sub", n2.name() + "/diff", List.of(a.name(), b.name()));
            return e2.add("Mul", n2.name(), List.of(d, d));
        }));
        t.add("TruncateMod", "Mod(fmod=1)", 10, (e, n) -> binary(e, n, BinaryLowerings::truncMod));
        t.add("Mod", "Mod(fmod=1)", 10, (e, n) -> binary(e, n, BinaryLowerings::truncMod));
        t.add("FloorMod", "Mod(fmod=0) for integers; Mod(fmod=1) + sign fix-up (Where) for floats", 10,
                (e, n) -> binary(e, n, BinaryLowerings::floorMod));
        t.add("FloorDiv", "Floor(Div) for floats; Div(x - FloorMod(x, y), y) for integers", 10,
                (e, n) -> binary(e, n, BinaryLowerings::floorDiv));
        t.add("DivNoNan", "Where(Equal(y, 0), 0, Div)", 9, (e, n) -> binary(e, n, (e2, n2, a, b) ->
                noNan(e2, n2, a, b, "Div")));
        t.add("MulNoNan", "Where(Equal(y, 0), 0, Mul)", 9, (e, n) -> binary(e, n, (e2, n2, a, b) ->
                noNan(e2, n2, a, b, "Mul")));
        t.add("AddN", "Sum", 8, BinaryLowerings::addN);
        t.add("Xdivy", "Where(Equal(x, 0), 0, Div)", 9, (e, n) -> binary(e, n, (e2, n2, a, b) ->
                zeroWhereXIsZero(e2, n2, a, e2.add("Div", n2.name() + "/div", List.of(a.name(), b.name())))));
        t.add("Xlogy", "Where(Equal(x, 0), 0, x * Log(y))", 9, (e, n) -> binary(e, n, (e2, n2, a, b) ->
                zeroWhereXIsZero(e2, n2, a, e2.add("Mul", n2.name() + "/mul", List.of(a.name(),
                        e2.add("Log", n2.name() + "/log", List.of(b.name())))))));
        t.add("Atan2", "Atan(y / x) + quadrant fix-up (Where)", 9, (e, n) -> binary(e, n, BinaryLowerings::atan2));
    }

    private static void simple(OnnxLowerings.Table t, String tfOp, String onnxOp) {
        t.add(tfOp, onnxOp, 1, (e, n) -> binary(e, n, (e2, n2, a, b) -> e2.add(onnxOp, n2.name(),
                List.of(a.name(), b.name()))));
    }

    /** Both operands in one layout and compute type; Q/DQ on both inputs of a quantized residual Add. */
    static void binary(OnnxEmitter e, Node n, Body body) {
        binary(e, n, body, 0);
    }

    /** As {@link #binary(OnnxEmitter, Node, Body)}, with output element type {@code outType} (0: the operands'). */
    static void binary(OnnxEmitter e, Node n, Body body, int outType) {
        int ct = e.computeType(n);
        TensorRef a = n.input(0);
        TensorRef b = n.input(1);
        Layout use = commonLayout(e, List.of(a, b));
        Val[] v = new Val[2];
        TensorRef[] refs = {a, b};
        for (int i = 0; i < 2; i++) {
            boolean scalar = e.constOf(refs[i]) == null && e.rankOf(refs[i]) == 0;
            v[i] = e.get(refs[i], scalar ? Layout.ANY : use, ct);
        }
        if (e.cfg().precision() == Precision.INT8 && (n.op().equals("Add") || n.op().equals("AddV2"))) {
            QuantParams qa = e.quant(n, a);
            QuantParams qb = e.quant(n, b);
            if (qa != null && qb != null) { // residual add: TensorRT fuses Q/DQ on both inputs
                v[0] = e.qdq(v[0], qa);
                v[1] = e.qdq(v[1], qb);
            }
        }
        int rank = v[0].rank() < 0 || v[1].rank() < 0 ? -1 : Math.max(v[0].rank(), v[1].rank());
        int type = outType != 0 ? outType : v[0].type() != 0 ? v[0].type() : v[1].type();
        e.put(n, 0, new Val(body.build(e, n, v[0], v[1]), use, type, rank));
    }

    /** NCHW when some operand is NCHW and every operand can be; NATIVE otherwise. */
    static Layout commonLayout(OnnxEmitter e, List<TensorRef> refs) {
        boolean anyNchw = false;
        for (TensorRef r : refs) {
            anyNchw |= e.layoutOf(r) == Layout.NCHW;
        }
        if (!anyNchw) {
            return Layout.NATIVE;
        }
        for (TensorRef r : refs) {
            int rank = e.rankOf(r);
            boolean ok = e.constOf(r) != null ? rank <= 4 : e.layoutOf(r) == Layout.NCHW || rank == 4 || rank == 0;
            if (!ok) {
                return Layout.NATIVE;
            }
        }
        return Layout.NCHW;
    }

    private static String truncMod(OnnxEmitter e, Node n, Val a, Val b) {
        return e.add("Mod", n.name(), List.of(a.name(), b.name()), attr("fmod", 1L));
    }

    /** TF's floor modulo: the sign of the divisor (ONNX Mod fmod=0 for integers; floats need fmod=1). */
    private static String floorMod(OnnxEmitter e, Node n, Val a, Val b) {
        return floorMod(e, n, a, b, n.name());
    }

    private static String floorMod(OnnxEmitter e, Node n, Val a, Val b, String outName) {
        if (!isFloat(a.type()) && a.type() != OnnxEmitter.F64) {
            return e.add("Mod", outName, List.of(a.name(), b.name()), attr("fmod", 0L));
        }
        String m = e.add("Mod", n.name() + "/fmod", List.of(a.name(), b.name()), attr("fmod", 1L));
        String zero = e.scalar(n.name() + "/zero", a.type(), 0);
        String nonzero = e.add("Not", n.name() + "/nonzero", List.of(e.add("Equal", n.name() + "/is0",
                List.of(m, zero))));
        String signs = e.add("Xor", n.name() + "/signs", List.of(e.add("Less", n.name() + "/yneg",
                List.of(b.name(), zero)), e.add("Less", n.name() + "/mneg", List.of(m, zero))));
        String fix = e.add("And", n.name() + "/fix", List.of(nonzero, signs));
        return e.add("Where", outName, List.of(fix, e.add("Add", n.name() + "/shifted", List.of(m, b.name())), m));
    }

    private static String floorDiv(OnnxEmitter e, Node n, Val a, Val b) {
        if (isFloat(a.type()) || a.type() == OnnxEmitter.F64) {
            return e.add("Floor", n.name(), List.of(e.add("Div", n.name() + "/div", List.of(a.name(), b.name()))));
        }
        // x - floormod(x, y) is an exact multiple of y, so the truncating integer Div is exact
        String mod = floorMod(e, n, a, b, n.name() + "/floormod");
        String sub = e.add("Sub", n.name() + "/sub", List.of(a.name(), mod));
        return e.add("Div", n.name(), List.of(sub, b.name()));
    }

    /** 0 where the divisor or factor y is 0, whatever x is (NaN and infinity included). */
    private static String noNan(OnnxEmitter e, Node n, Val a, Val b, String op) {
        String zero = e.scalar(n.name() + "/zero", a.type(), 0);
        String isZero = e.add("Equal", n.name() + "/y_is_0", List.of(b.name(), zero));
        String r = e.add(op, n.name() + "/" + op.toLowerCase(), List.of(a.name(), b.name()));
        return e.add("Where", n.name(), List.of(isZero, zero, r));
    }

    private static void addN(OnnxEmitter e, Node n) {
        int ct = e.computeType(n);
        List<TensorRef> refs = new ArrayList<>();
        for (int i = 0; i < n.numDataInputs(); i++) {
            refs.add(n.input(i));
        }
        Layout use = commonLayout(e, refs);
        List<String> ins = new ArrayList<>();
        Val last = null;
        for (TensorRef r : refs) {
            last = e.get(r, use, ct);
            ins.add(last.name());
        }
        String out;
        if (ins.size() == 1) {
            out = e.add("Identity", n.name(), ins);
        } else if (isFloat(last.type()) || last.type() == OnnxEmitter.F64) {
            out = e.add("Sum", n.name(), ins);
        } else { // ONNX Sum is float-only
            out = ins.get(0);
            for (int i = 1; i < ins.size(); i++) {
                out = e.add("Add", i == ins.size() - 1 ? n.name() : n.name() + "/add" + i, List.of(out, ins.get(i)));
            }
        }
        e.put(n, 0, new Val(out, use, last.type(), last.rank()));
    }

    private static String zeroWhereXIsZero(OnnxEmitter e, Node n, Val x, String value) {
        String zero = e.scalar(n.name() + "/zero", x.type(), 0);
        String isZero = e.add("Equal", n.name() + "/x_is_0", List.of(x.name(), zero));
        return e.add("Where", n.name(), List.of(isZero, zero, value));
    }

    /** atan(y/x), plus pi (y >= 0) or minus pi (y < 0) where x < 0; 0 where both are 0 (as TF). */
    private static String atan2(OnnxEmitter e, Node n, Val y, Val x) {
        String zero = e.scalar(n.name() + "/zero", y.type(), 0);
        String q = e.add("Atan", n.name() + "/atan", List.of(e.add("Div", n.name() + "/div", List.of(y.name(),
                x.name()))));
        String pi = e.add("Where", n.name() + "/pi", List.of(e.add("Less", n.name() + "/y_neg", List.of(y.name(),
                zero)), e.scalar(n.name() + "/minus_pi", y.type(), -Math.PI), e.scalar(n.name() + "/plus_pi",
                y.type(), Math.PI)));
        String shift = e.add("Where", n.name() + "/shift", List.of(e.add("Less", n.name() + "/x_neg",
                List.of(x.name(), zero)), pi, zero));
        String r = e.add("Add", n.name() + "/angle", List.of(q, shift));
        String origin = e.add("And", n.name() + "/origin", List.of(e.add("Equal", n.name() + "/x0",
                List.of(x.name(), zero)), e.add("Equal", n.name() + "/y0", List.of(y.name(), zero))));
        return e.add("Where", n.name(), List.of(origin, zero, r));
    }
}
