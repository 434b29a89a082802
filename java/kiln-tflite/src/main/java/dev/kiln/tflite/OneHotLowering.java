package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * OneHot(indices, depth, on_value, off_value) → ONE_HOT with the same inputs and axis (-1: a new last axis); an index
 * outside [0, depth) gives a row of off_value in both. Computed in float32 under INT8.
 */
final class OneHotLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int[] in = {e.input(n, 0), e.input(n, 1), e.input(n, 2), e.input(n, 3)};
        int out = e.output(TensorRef.of(n.name(), 0));
        e.op(ONE_HOT, in, new int[] {out}, BuiltinOptions.oneHot((int) n.attrInt("axis", -1)));
    }
}
