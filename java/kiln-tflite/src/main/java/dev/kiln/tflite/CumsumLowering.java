package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** Cumsum with a constant axis → CUMSUM (exclusive and reverse as attributes say); float32 or integer, no int8 kernel. */
final class CumsumLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int axis = TfliteEmitter.ints(e.requireConstant(n, 1, "axis"))[0];
        int axisT = e.int32(n.name() + "/axis", new int[] {axis}, new long[0]);
        int out = e.output(TensorRef.of(n.name(), 0));
        e.op(CUMSUM, new int[] {x, axisT}, new int[] {out},
                BuiltinOptions.cumsum(n.attrBool("exclusive", false), n.attrBool("reverse", false)));
    }
}
