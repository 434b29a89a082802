package dev.kiln.onnx;

import dev.kiln.graph.Node;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;
import dev.kiln.onnx.proto.Onnx.AttributeProto;

import java.util.List;

/** Elementwise math of one tensor; layout-agnostic, so an NCHW input stays NCHW. */
final class UnaryLowerings {
    private UnaryLowerings() {
    }

    /** Builds the output of one unary op from its (already typed) input. */
    interface Body {
        String build(OnnxEmitter e, Node n, Val x);
    }

    static void register(OnnxLowerings.Table t) {
        // TF op, ONNX op, the opset that introduced it
        String[][] same = {{"Exp", "Exp", "1"}, {"Log", "Log", "1"}, {"Neg", "Neg", "1"}, {"Sqrt", "Sqrt", "1"},
            {"Abs", "Abs", "1"}, {"Floor", "Floor", "1"}, {"Ceil", "Ceil", "1"}, {"Round", "Round", "11"},
            {"Rint", "Round", "11"}, {"Sign", "Sign", "9"}, {"Reciprocal", "Reciprocal", "1"},
            {"Inv", "Reciprocal", "1"}, {"Erf", "Erf", "9"}, {"Sin", "Sin", "7"}, {"Cos", "Cos", "7"},
            {"Tan", "Tan", "7"}, {"Asin", "Asin", "7"}, {"Acos", "Acos", "7"}, {"Atan", "Atan", "7"},
            {"Sinh", "Sinh", "9"}, {"Cosh", "Cosh", "9"}, {"Asinh", "Asinh", "9"}, {"Acosh", "Acosh", "9"},
            {"Atanh", "Atanh", "9"}};
        for (String[] p : same) {
            t.add(p[0], p[1], Integer.parseInt(p[2]), (e, n) -> unary(e, n, onnx(p[1])));
        }
        t.add("Rsqrt", "Reciprocal(Sqrt)", 1, (e, n) -> unary(e, n, (e2, n2, x) -> e2.add("Reciprocal", n2.name(),
                List.of(e2.add("Sqrt", n2.name() + "/sqrt", List.of(x.name()))))));
        t.add("Square", "Mul(x, x)", 1, (e, n) -> unary(e, n, (e2, n2, x) -> e2.add("Mul", n2.name(),
                List.of(x.name(), x.name()))));
        t.add("Erfc", "1 - Erf", 9, (e, n) -> unary(e, n, (e2, n2, x) -> e2.add("Sub", n2.name(),
                List.of(e2.scalar(n2.name() + "/one", x.type(), 1), e2.add("Erf", n2.name() + "/erf",
                        List.of(x.name()))))));
        t.add("Log1p", "Log(x + 1)", 7, (e, n) -> unary(e, n, (e2, n2, x) -> e2.add("Log", n2.name(),
                List.of(e2.add("Add", n2.name() + "/plus1", List.of(x.name(), e2.scalar(n2.name() + "/one",
                        x.type(), 1)))))));
        t.add("Expm1", "Exp(x) - 1", 7, (e, n) -> unary(e, n, (e2, n2, x) -> e2.add("Sub", n2.name(),
                List.of(e2.add("Exp", n2.name() + "/exp", List.of(x.name())), e2.scalar(n2.name() + "/one",
                        x.type(), 1)))));
        t.add("Invert", "BitwiseNot", 18, (e, n) -> unary(e, n, onnx("BitwiseNot")));
    }

    static Body onnx(String op, AttributeProto... a) {
        return (e, n, x) -> e.add(op, n.name(), List.of(x.name()), a);
    }

    static void unary(OnnxEmitter e, Node n, Body body) {
        unary(e, n, body, 0);
    }

    /** As {@link #unary(OnnxEmitter, Node, Body)}, with output element type {@code outType} (0: the input's). */
    static void unary(OnnxEmitter e, Node n, Body body, int outType) {
        Val x = e.get(n.input(0), Layout.ANY, e.computeType(n));
        e.put(n, 0, new Val(body.build(e, n, x), x.layout(), outType != 0 ? outType : x.type(), x.rank()));
    }
}
