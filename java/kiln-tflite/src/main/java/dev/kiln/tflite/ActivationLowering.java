package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * Activations not fused into a convolution: Relu → RELU, Relu6 → RELU6, Sigmoid → LOGISTIC, Tanh → TANH, Elu → ELU,
 * LeakyRelu → LEAKY_RELU. Under INT8, LOGISTIC and TANH outputs have TFLite's fixed ranges (1/256 with zero point
 * -128, and 1/128 with 0).
 */
final class ActivationLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        TensorRef ref = TensorRef.of(n.name(), 0);
        switch (n.op()) {
            case "Relu" -> e.op(RELU, new int[] {x}, new int[] {e.output(ref)}, BuiltinOptions.NONE);
            case "Relu6" -> e.op(RELU6, new int[] {x}, new int[] {e.output(ref)}, BuiltinOptions.NONE);
            case "Sigmoid" -> e.op(LOGISTIC, new int[] {x}, new int[] {e.outputFixed(ref, 1f / 256, -128)},
                    BuiltinOptions.NONE);
            case "Tanh" -> e.op(TANH, new int[] {x}, new int[] {e.outputFixed(ref, 1f / 128, 0)},
                    BuiltinOptions.NONE);
            case "Elu" -> e.op(ELU, new int[] {x}, new int[] {e.output(ref)}, BuiltinOptions.NONE);
            default -> e.op(LEAKY_RELU, new int[] {x}, new int[] {e.output(ref)},
                    BuiltinOptions.leakyRelu(n.attrFloat("alpha", 0.2f)));
        }
    }
}
