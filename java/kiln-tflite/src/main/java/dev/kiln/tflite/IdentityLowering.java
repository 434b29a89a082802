package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

/** Identity and friends → no operator: the output is another name for the input tensor. */
final class IdentityLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        e.alias(TensorRef.of(n.name(), 0), n.input(0));
    }
}
