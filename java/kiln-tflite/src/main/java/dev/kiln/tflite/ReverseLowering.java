package dev.kiln.tflite;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * ReverseV2 with constant axes → REVERSE_V2 (the backward half of a Keras Bidirectional RNN reverses time). One
 * REVERSE_V2 per axis, since runtimes before 2.15 reverse a single axis per operator; negative axes are made positive
 * from the IR's rank. Every tensor keeps the input's int8 parameters (REVERSE_V2 copies codes).
 */
final class ReverseLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int[] axes = TfliteEmitter.ints(e.requireConstant(n, 1, "axis"));
        int rank = e.rankOf(n.input(0));
        TensorRef ref = TensorRef.of(n.name(), 0);
        if (axes.length == 0) {
            e.alias(ref, n.input(0)); // reversing no axis is the identity
            return;
        }
        int current = x;
        for (int k = 0; k < axes.length; k++) {
            int axis = axes[k];
            if (axis < 0) {
                if (rank < 0) {
                    throw KilnException.unsupported("node '" + n.name() + "' (ReverseV2): negative axis " + axis
                            + " on an input of unknown rank; give the input's shape");
                }
                axis += rank;
            }
            int axisT = e.int32(n.name() + "/axis" + (k == 0 ? "" : "_" + k), new int[] {axis});
            int out = k == axes.length - 1 ? e.outputLike(ref, x)
                    : e.intermediate(n.name() + "/reversed_" + k, x, e.typeOf(n.input(0)));
            e.op(REVERSE_V2, new int[] {current, axisT}, new int[] {out}, BuiltinOptions.empty(OPT_REVERSE_V2));
            current = out;
        }
    }
}
