package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** Fill(dims, value) → FILL: the zero initial state of a Keras RNN, sized by the run-time batch. */
final class FillLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int dims = e.input(n, 0);
        int value = e.input(n, 1);
        int out = e.output(TensorRef.of(n.name(), 0));
        e.op(FILL, new int[] {dims, value}, new int[] {out}, BuiltinOptions.fill());
    }
}
