package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** Split (constant axis, num_split equal parts) → SPLIT; every output keeps the input's int8 parameters. */
final class SplitLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int axis = TfliteEmitter.ints(e.requireConstant(n, 0, "axis"))[0];
        int x = e.input(n, 1);
        int count = (int) n.attrInt("num_split");
        int[] outs = new int[count];
        for (int i = 0; i < count; i++) {
            outs[i] = e.outputLike(TensorRef.of(n.name(), i), x);
        }
        e.op(SPLIT, new int[] {e.int32(n.name() + "/axis", new int[] {axis}, new long[0]), x}, outs,
                BuiltinOptions.split(count));
    }
}
