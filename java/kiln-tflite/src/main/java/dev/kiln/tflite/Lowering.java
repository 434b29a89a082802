package dev.kiln.tflite;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;

/**
 * Lowers one family of TensorFlow ops to TFLite operators through the {@link TfliteEmitter}, which owns the shared
 * state (tensors, constants, quantization). Registered by TF op name in {@link Lowerings}.
 */
interface Lowering {
    /** Emits the TFLite operators for {@code n}. */
    void lower(Node n, TfliteEmitter e);

    /**
     * The data inputs of {@code n} the lowering reads (default all): an input it reads as a static value (a shape it
     * knows from the IR) keeps that input's producers out of the model.
     */
    default int[] usedInputs(Node n, Graph g) {
        int[] all = new int[n.numDataInputs()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        return all;
    }
}
