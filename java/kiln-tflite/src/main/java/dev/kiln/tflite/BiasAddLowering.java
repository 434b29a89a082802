package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** A BiasAdd not fused into a convolution or MatMul → ADD (the bias broadcasts over the last, channel, axis). */
final class BiasAddLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        Windows.requireNhwc(n);
        int x = e.input(n, 0);
        int b = e.input(n, 1);
        int out = e.output(TensorRef.of(n.name(), 0));
        e.op(ADD, new int[] {x, b}, new int[] {out}, BuiltinOptions.arithmetic(OPT_ADD, ACT_NONE));
    }
}
