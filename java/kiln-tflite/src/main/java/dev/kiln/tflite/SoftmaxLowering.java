package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** Softmax → SOFTMAX (beta 1; int8 output 1/256 with zero point -128, TFLite's fixed range); LogSoftmax → LOG_SOFTMAX. */
final class SoftmaxLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        TensorRef ref = TensorRef.of(n.name(), 0);
        if (n.op().equals("Softmax")) {
            e.op(SOFTMAX, new int[] {x}, new int[] {e.outputFixed(ref, 1f / 256, -128)}, BuiltinOptions.softmax(1f));
        } else {
            e.op(LOG_SOFTMAX, new int[] {x}, new int[] {e.output(ref)}, BuiltinOptions.empty(OPT_LOG_SOFTMAX));
        }
    }
}
