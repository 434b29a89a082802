package dev.kiln.graph;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A recurrent layer kept whole in the IR instead of unrolled: a call node (op {@code PartitionedCall}, its function in
 * {@link Graph#functions()}) that carries, in {@code _kiln_*} attributes, what the function computes, so that exporters
 * other than TensorFlow's can write it as one recurrent op (ONNX {@code LSTM}) without reading the function's body.
 *
 * <p>The kinds are Keras's {@code standard_lstm} and {@code standard_gru}, the CPU implementations of
 * {@code tf.keras.layers.LSTM} and {@code GRU} (tanh and sigmoid; LSTM gate order i, f, c, o; GRU z, r, h with
 * reset_after). An LSTM's inputs are {@code x, h0, c0, kernel [I,4H], recurrent_kernel [H,4H], bias [4H]} and its
 * outputs {@code last_output [B,H], outputs, h [B,H], c [B,H], runtime}; a GRU's inputs are
 * {@code x, h0, kernel [I,3H], recurrent_kernel [H,3H], bias [2,3H]} (input bias, recurrent bias) and its outputs
 * {@code last_output, outputs, h, runtime}. {@code outputs} is every step's h ({@code [B,T,H]}, or {@code [T,B,H]}
 * time-major) with {@code returnSequences}, else the last step's alone ({@code [B,1,H]}). {@code goBackwards} runs
 * over the reversed sequence and keeps its outputs in that order.
 */
public record RecurrentCall(Kind kind, boolean goBackwards, boolean timeMajor, boolean returnSequences) {
    /** The attribute that marks a call as a kept recurrent layer, holding its {@link Kind} in lower case. */
    public static final String KIND_ATTR = "_kiln_recurrent";
    private static final String GO_BACKWARDS_ATTR = "_kiln_go_backwards";
    private static final String TIME_MAJOR_ATTR = "_kiln_time_major";
    private static final String RETURN_SEQUENCES_ATTR = "_kiln_return_sequences";

    public enum Kind {
        /** Keras {@code standard_lstm}. */
        KERAS_LSTM,
        /** Keras {@code standard_gru} (reset_after). */
        KERAS_GRU
    }

    /** What {@code n} computes when it is a kept recurrent call, else null. */
    public static RecurrentCall of(Node n) {
        if (!n.attrs().containsKey(KIND_ATTR)) {
            return null;
        }
        Kind kind = Kind.valueOf(n.attrString(KIND_ATTR).toUpperCase(java.util.Locale.ROOT));
        return new RecurrentCall(kind, n.attrBool(GO_BACKWARDS_ATTR, false), n.attrBool(TIME_MAJOR_ATTR, false),
                n.attrBool(RETURN_SEQUENCES_ATTR, true));
    }

    /** The attributes that mark a call node as this layer. */
    public Map<String, AttrValue> attrs() {
        Map<String, AttrValue> a = new LinkedHashMap<>();
        a.put(KIND_ATTR, AttrValue.of(kind.name().toLowerCase(java.util.Locale.ROOT)));
        a.put(GO_BACKWARDS_ATTR, AttrValue.of(goBackwards));
        a.put(TIME_MAJOR_ATTR, AttrValue.of(timeMajor));
        a.put(RETURN_SEQUENCES_ATTR, AttrValue.of(returnSequences));
        return a;
    }

    /** One line for logs and errors: "Keras LSTM (batch-major, last step only)". */
    public String describe() {
        return (kind == Kind.KERAS_LSTM ? "Keras LSTM (" : "Keras GRU (") + (timeMajor ? "time-major" : "batch-major") + (goBackwards ? ", backwards" : "")
                + (returnSequences ? ", every step" : ", last step only") + ")";
    }
}
