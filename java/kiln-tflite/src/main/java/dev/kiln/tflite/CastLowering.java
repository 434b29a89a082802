package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** Cast → CAST between the mapped types; Shape → SHAPE (int32 or int64 as out_type says). */
final class CastLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int out = e.output(TensorRef.of(n.name(), 0));
        byte outType = e.model().tensor(out).type();
        if (n.op().equals("Shape")) {
            e.op(SHAPE, new int[] {x}, new int[] {out}, BuiltinOptions.shape(outType));
        } else {
            e.op(CAST, new int[] {x}, new int[] {out}, BuiltinOptions.cast(e.model().tensor(x).type(), outType));
        }
    }
}
