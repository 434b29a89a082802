package dev.kiln.onnx;

import dev.kiln.graph.Node;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;

import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.UnaryLowerings.onnx;
import static dev.kiln.onnx.UnaryLowerings.unary;

/** Activations and clipping; Softmax and LogSoftmax work on TF's last axis, so they read the NATIVE layout. */
final class ActivationLowerings {
    private ActivationLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("Relu", "Relu", 1, (e, n) -> unary(e, n, onnx("Relu")));
        t.add("Sigmoid", "Sigmoid", 1, (e, n) -> unary(e, n, onnx("Sigmoid")));
        t.add("Tanh", "Tanh", 1, (e, n) -> unary(e, n, onnx("Tanh")));
        t.add("Elu", "Elu", 1, (e, n) -> unary(e, n, onnx("Elu", attr("alpha", 1.0f))));
        t.add("Selu", "Selu (TF's alpha and scale are ONNX's defaults)", 1, (e, n) -> unary(e, n, onnx("Selu")));
        t.add("Softplus", "Softplus", 1, (e, n) -> unary(e, n, onnx("Softplus")));
        t.add("Softsign", "Softsign", 1, (e, n) -> unary(e, n, onnx("Softsign")));
        t.add("LeakyRelu", "LeakyRelu", 1, (e, n) -> unary(e, n, onnx("LeakyRelu",
                attr("alpha", n.attrFloat("alpha", 0.2f)))));
        t.add("Relu6", "Clip(0, 6)", 11, (e, n) -> unary(e, n, (e2, n2, x) -> e2.add("Clip", n2.name(),
                List.of(x.name(), e2.scalarInit(n2.name() + "/min", x.type(), 0f),
                        e2.scalarInit(n2.name() + "/max", x.type(), 6f)))));
        t.add("Softmax", "Softmax(axis=-1)", 13, ActivationLowerings::softmax);
        t.add("LogSoftmax", "LogSoftmax(axis=-1)", 13, ActivationLowerings::softmax);
        t.add("ClipByValue", "Clip (scalar bounds) or Min + Max (tensor bounds)", 11, ActivationLowerings::clip);
    }

    private static void softmax(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        e.put(n, 0, new Val(e.add(n.op(), n.name(), List.of(x.name()), attr("axis", -1L)), Layout.NATIVE, x.type(),
                x.rank()));
    }

    private static void clip(OnnxEmitter e, Node n) {
        int ct = e.computeType(n);
        boolean scalars = e.rankOf(n.input(1)) == 0 && e.rankOf(n.input(2)) == 0;
        Layout use = scalars ? Layout.ANY : BinaryLowerings.commonLayout(e, List.of(n.input(0), n.input(1),
                n.input(2)));
        Val x = e.get(n.input(0), use, ct);
        Val lo = e.get(n.input(1), scalars ? Layout.ANY : use, ct);
        Val hi = e.get(n.input(2), scalars ? Layout.ANY : use, ct);
        String out = scalars ? e.add("Clip", n.name(), List.of(x.name(), lo.name(), hi.name()))
                : e.add("Max", n.name(), List.of(e.add("Min", n.name() + "/min", List.of(x.name(), hi.name())),
                lo.name()));
        e.put(n, 0, new Val(out, x.layout(), x.type(), x.rank()));
    }
}
