package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** Tile with constant multiples → TILE; the output keeps the input's int8 parameters. */
final class TileLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int multiples = e.int32(n.name() + "/multiples", TfliteEmitter.ints(e.requireConstant(n, 1, "multiples")));
        int out = e.outputLike(TensorRef.of(n.name(), 0), x);
        e.op(TILE, new int[] {x, multiples}, new int[] {out}, BuiltinOptions.empty(OPT_TILE));
    }
}
