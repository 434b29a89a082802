package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** BatchMatMul (V2, V3) of two tensors → BATCH_MATMUL with TF's adj_x / adj_y. */
final class BatchMatMulLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int a = e.input(n, 0);
        int b = e.input(n, 1);
        int out = e.output(TensorRef.of(n.name(), 0));
        e.op(BATCH_MATMUL, new int[] {a, b}, new int[] {out},
                BuiltinOptions.batchMatMul(n.attrBool("adj_x", false), n.attrBool("adj_y", false)));
    }
}
