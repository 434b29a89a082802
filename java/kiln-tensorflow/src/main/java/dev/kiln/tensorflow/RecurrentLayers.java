package dev.kiln.tensorflow;

/**
 * What import does with loops (TF2 While, with the TensorList ops around them) and with Keras LSTM and GRU layers
 * (the {@code standard_lstm} or {@code standard_gru} function and its loop): unroll them into straight-line ops, or
 * keep them: a Keras layer as one call (see {@link dev.kiln.graph.RecurrentCall}) that the ONNX exporter writes as one
 * {@code LSTM} or {@code GRU} op, any other loop as a While node that the ONNX exporter writes as a {@code Loop}. Kept ones call their functions, which the
 * TensorFlow exporter writes back as they were.
 */
public enum RecurrentLayers {
    /** Unroll where the number of time steps is known; keep whole where it is not (variable-length sequences). */
    AUTO,
    /** Always unroll (a loop whose length is unknown is refused, naming the input to give a shape). */
    UNROLL,
    /** Always keep whole: a Keras LSTM/GRU as one call (one ONNX LSTM/GRU), any other loop as a loop (ONNX Loop). */
    KEEP,
    /** Keep every loop as a loop, a Keras LSTM/GRU's too (ONNX Loop rather than LSTM/GRU). */
    LOOP;

    /** Reads {@code auto}, {@code unroll}, {@code keep} or {@code loop}. */
    public static RecurrentLayers parse(String s) {
        for (RecurrentLayers r : values()) {
            if (r.name().equalsIgnoreCase(s.strip())) {
                return r;
            }
        }
        throw new dev.kiln.KilnArgumentException("bad recurrent-layer mode '" + s + "': expected auto, unroll, keep or loop");
    }
}
