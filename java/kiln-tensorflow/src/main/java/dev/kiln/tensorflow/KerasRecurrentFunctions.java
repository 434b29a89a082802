package dev.kiln.tensorflow;

import dev.kiln.graph.RecurrentCall;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Recognizes the functions that implement a Keras recurrent layer, the way TensorFlow's own implementation selector and
 * the TFLite converter do: by the {@code api_implements} attribute Keras puts on them ({@code lstm_<uuid>},
 * {@code gru_<uuid>}), never by the shape of their bodies. Only the plain form is taken: the arguments of
 * {@code standard_lstm} / {@code standard_gru} without mask or sequence lengths, whose cells Keras only uses with tanh
 * and sigmoid activations (and, for the GRU, reset_after).
 */
final class KerasRecurrentFunctions {
    private static final List<String> LSTM_ARGS = List.of("inputs", "init_h", "init_c", "kernel", "recurrent_kernel",
            "bias");
    private static final List<String> GRU_ARGS = List.of("inputs", "init_h", "kernel", "recurrent_kernel", "bias");

    private KerasRecurrentFunctions() {
    }

    /** What {@code fd} computes when it is Keras's plain {@code standard_lstm} or {@code standard_gru}; else null. */
    static RecurrentCall match(FunctionDef fd) {
        Map<String, AttrValue> attrs = fd.getAttrMap();
        AttrValue api = attrs.get("api_implements");
        if (api == null || !attrs.containsKey("go_backwards") || !attrs.containsKey("time_major")) {
            return null;
        }
        String implemented = api.getS().toStringUtf8();
        List<String> args = fd.getSignature().getInputArgList().stream().map(OpDef.ArgDef::getName).toList();
        int outputs = fd.getSignature().getOutputArgCount();
        RecurrentCall.Kind kind;
        if (implemented.startsWith("lstm_") && args.equals(LSTM_ARGS) && outputs == 5) {
            kind = RecurrentCall.Kind.KERAS_LSTM;
        } else if (implemented.startsWith("gru_") && args.equals(GRU_ARGS) && outputs == 4) {
            kind = RecurrentCall.Kind.KERAS_GRU;
        } else {
            return null;
        }
        Boolean returnSequences = returnsSequences(fd);
        if (returnSequences == null) {
            return null;
        }
        return new RecurrentCall(kind, attrs.get("go_backwards").getB(), attrs.get("time_major").getB(),
                returnSequences);
    }

    /**
     * Whether the loop keeps every step's output: Keras's {@code backend.rnn} reserves a TensorList of one element
     * when {@code return_sequences} is false and of the sequence's length otherwise. (With one time step the two read
     * the same.) Null when the function has no loop writing into a reserved list.
     */
    private static Boolean returnsSequences(FunctionDef fd) {
        Map<String, NodeDef> body = new LinkedHashMap<>();
        fd.getNodeDefList().forEach(nd -> body.put(nd.getName(), nd));
        for (NodeDef nd : fd.getNodeDefList()) {
            if (!nd.getOp().equals("While") && !nd.getOp().equals("StatelessWhile")) {
                continue;
            }
            for (String in : nd.getInputList()) {
                NodeDef src = body.get(in.split(":")[0]);
                if (src != null && src.getOp().equals("TensorListReserve") && src.getInputCount() >= 2) {
                    NodeDef size = body.get(src.getInput(1).split(":")[0]);
                    return !(size != null && size.getOp().equals("Const") && isOne(size));
                }
            }
        }
        return null;
    }

    /** Whether a Const node holds the single integer 1 (int_val or tensor_content, as writers differ). */
    private static boolean isOne(NodeDef constant) {
        dev.kiln.graph.Tensor t = GraphDefs.fromProto(constant.getAttrOrThrow("value").getTensor(), constant.getName());
        return t.numElements() == 1 && !t.dtype().isFloatingPoint() && t.asLongs()[0] == 1;
    }
}
