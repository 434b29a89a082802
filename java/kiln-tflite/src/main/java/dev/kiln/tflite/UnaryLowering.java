package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * Element-wise math: Exp, Log, Sqrt, Rsqrt, Neg, Abs, Square, Floor, Sign, Round → the TFLite operator of the same name
 * (ROUND rounds half to even, as TensorFlow's Round does).
 */
final class UnaryLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int out = e.output(TensorRef.of(n.name(), 0));
        switch (n.op()) {
            case "Exp" -> e.op(EXP, new int[] {x}, new int[] {out}, BuiltinOptions.empty(OPT_EXP));
            case "Log" -> e.op(LOG, new int[] {x}, new int[] {out}, BuiltinOptions.NONE);
            case "Sqrt" -> e.op(SQRT, new int[] {x}, new int[] {out}, BuiltinOptions.NONE);
            case "Rsqrt" -> e.op(RSQRT, new int[] {x}, new int[] {out}, BuiltinOptions.NONE);
            case "Neg" -> e.op(NEG, new int[] {x}, new int[] {out}, BuiltinOptions.empty(OPT_NEG));
            case "Abs" -> e.op(ABS, new int[] {x}, new int[] {out}, BuiltinOptions.empty(OPT_ABS));
            case "Square" -> e.op(SQUARE, new int[] {x}, new int[] {out}, BuiltinOptions.empty(OPT_SQUARE));
            case "Sign" -> e.op(SIGN, new int[] {x}, new int[] {out}, BuiltinOptions.empty(OPT_SIGN));
            case "Round" -> e.op(ROUND, new int[] {x}, new int[] {out}, BuiltinOptions.NONE);
            default -> e.op(FLOOR, new int[] {x}, new int[] {out}, BuiltinOptions.NONE);
        }
    }
}
