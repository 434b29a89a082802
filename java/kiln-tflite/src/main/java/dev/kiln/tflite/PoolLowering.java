package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * MaxPool → MAX_POOL_2D, AvgPool → AVERAGE_POOL_2D (both average over the valid window only, as TF does with SAME
 * padding). Under INT8 the output keeps the input's parameters, as TFLite's int8 pooling requires.
 */
final class PoolLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        Windows.requireNhwc(n);
        int x = e.input(n, 0);
        long[] k = n.attrInts("ksize");
        long[] s = n.attrInts("strides");
        int out = e.outputLike(TensorRef.of(n.name(), 0), x);
        e.op(n.op().equals("MaxPool") ? MAX_POOL_2D : AVERAGE_POOL_2D, new int[] {x}, new int[] {out},
                BuiltinOptions.pool2d(Windows.padding(n), (int) s[2], (int) s[1], (int) k[2], (int) k[1], ACT_NONE));
    }
}
