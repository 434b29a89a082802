package dev.kiln.onnx;

import dev.kiln.graph.Node;

/**
 * Lowers one TensorFlow node to ONNX nodes. It reads its inputs from the emitter ({@code get}, in the layout and
 * float type it needs), adds ONNX nodes and initializers ({@code add}, {@code init}) and publishes its outputs
 * ({@code put} or {@code alias}); the emitter owns names, layouts, initializers and Q/DQ.
 */
@FunctionalInterface
interface OnnxLowering {
    void lower(OnnxEmitter e, Node n);
}
