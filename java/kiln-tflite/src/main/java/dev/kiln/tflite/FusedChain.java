package dev.kiln.tflite;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;
import dev.kiln.passes.FuseBiasActivation;

import java.util.List;

import static dev.kiln.tflite.TfliteSchema.ACT_NONE;
import static dev.kiln.tflite.TfliteSchema.ACT_RELU;
import static dev.kiln.tflite.TfliteSchema.ACT_RELU6;

/**
 * A convolution or MatMul with the BiasAdd and Relu/Relu6 that {@link FuseBiasActivation} marked for fusion: TFLite's
 * CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED take the bias as an input and the activation as an option, so the
 * whole chain is one operator whose output is the chain's last tensor.
 */
record FusedChain(Node bias, Node activation, byte activationCode, TensorRef end) {

    static FusedChain of(Node producer, Graph g) {
        TensorRef end = TensorRef.of(producer.name(), 0);
        Node bias = null;
        String biasName = producer.attrString(FuseBiasActivation.FUSED_BIAS, "");
        if (!biasName.isEmpty()) {
            Node b = g.find(biasName);
            if (b != null && producer.name().equals(b.attrString(FuseBiasActivation.FUSED_INTO, ""))) {
                bias = b;
                end = TensorRef.of(b.name(), 0);
            }
        }
        Node act = null;
        byte code = ACT_NONE;
        String actOp = producer.attrString(FuseBiasActivation.FUSED_ACTIVATION, "");
        if (!actOp.isEmpty()) {
            List<Node> readers = g.dataConsumers(end);
            if (readers.size() == 1 && readers.get(0).op().equals(actOp)
                    && producer.name().equals(readers.get(0).attrString(FuseBiasActivation.FUSED_INTO, ""))) {
                act = readers.get(0);
                code = actOp.equals("Relu6") ? ACT_RELU6 : ACT_RELU;
                end = TensorRef.of(act.name(), 0);
            }
        }
        return new FusedChain(bias, act, code, end);
    }

    /** Marks the fused nodes as emitted. */
    void absorbInto(TfliteEmitter e) {
        if (bias != null) {
            e.absorb(bias.name());
        }
        if (activation != null) {
            e.absorb(activation.name());
        }
    }
}
