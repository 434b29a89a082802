package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * Element-wise binary ops with broadcasting: Add/AddV2 → ADD, Sub → SUB, Mul → MUL, RealDiv → DIV, Maximum → MAXIMUM,
 * Minimum → MINIMUM, SquaredDifference → SQUARED_DIFFERENCE. Under INT8, MAXIMUM and MINIMUM compare codes, so both inputs and the output share the first
 * input's parameters.
 */
final class BinaryLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int a = e.input(n, 0);
        int b = e.input(n, 1);
        TensorRef ref = TensorRef.of(n.name(), 0);
        switch (n.op()) {
            case "Add", "AddV2" -> arithmetic(e, ADD, OPT_ADD, a, b, ref);
            case "Sub" -> arithmetic(e, SUB, OPT_SUB, a, b, ref);
            case "Mul" -> arithmetic(e, MUL, OPT_MUL, a, b, ref);
            case "RealDiv" -> arithmetic(e, DIV, OPT_DIV, a, b, ref);
            case "SquaredDifference" -> e.op(SQUARED_DIFFERENCE, new int[] {a, b}, new int[] {e.output(ref)},
                    BuiltinOptions.empty(OPT_SQUARED_DIFFERENCE));
            default -> {
                int out = e.outputLike(ref, a);
                int b2 = e.requantize(b, e.model().tensor(a).quantization(), e.typeOf(n.input(1)));
                e.op(n.op().equals("Maximum") ? MAXIMUM : MINIMUM, new int[] {a, b2}, new int[] {out},
                        BuiltinOptions.empty(OPT_MAXIMUM_MINIMUM));
            }
        }
    }

    private static void arithmetic(TfliteEmitter e, int builtin, byte options, int a, int b, TensorRef ref) {
        int out = e.output(ref);
        e.op(builtin, new int[] {a, b}, new int[] {out}, BuiltinOptions.arithmetic(options, ACT_NONE));
    }
}
