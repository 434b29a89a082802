package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** Transpose with a constant permutation → TRANSPOSE; the output keeps the input's int8 parameters. */
final class TransposeLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int perm = e.int32(n.name() + "/perm", TfliteEmitter.ints(e.requireConstant(n, 1, "permutation")));
        int out = e.outputLike(TensorRef.of(n.name(), 0), x);
        e.op(TRANSPOSE, new int[] {x, perm}, new int[] {out}, BuiltinOptions.empty(OPT_TRANSPOSE));
    }
}
