package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * Unpack → UNPACK (what an unrolled RNN loop reads its time steps from); every output keeps the input's int8
 * parameters, as UNPACK copies codes.
 */
final class UnpackLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int count = (int) n.attrInt("num");
        int axis = (int) n.attrInt("axis", 0);
        int[] outs = new int[count];
        for (int i = 0; i < count; i++) {
            outs[i] = e.outputLike(TensorRef.of(n.name(), i), x);
        }
        e.op(UNPACK, new int[] {x}, outs, BuiltinOptions.unpack(count, axis));
    }
}
