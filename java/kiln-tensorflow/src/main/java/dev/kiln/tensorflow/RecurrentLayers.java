package dev.kiln.tensorflow;

/**
 * What import does with a Keras LSTM layer (the {@code standard_lstm} function and its {@code While} loop): unroll it
 * into straight-line ops, or keep it whole as one call (see {@link dev.kiln.graph.RecurrentCall}) that the TensorFlow
 * exporter writes back as the function and the ONNX exporter as one {@code LSTM} op.
 */
public enum RecurrentLayers {
    /** Unroll where the number of time steps is known; keep whole where it is not (variable-length sequences). */
    AUTO,
    /** Always unroll (a loop whose length is unknown is refused, naming the input to give a shape). */
    UNROLL,
    /** Always keep whole. */
    KEEP;

    /** Reads {@code auto}, {@code unroll} or {@code keep}. */
    public static RecurrentLayers parse(String s) {
        for (RecurrentLayers r : values()) {
            if (r.name().equalsIgnoreCase(s.strip())) {
                return r;
            }
        }
        throw new dev.kiln.KilnArgumentException("bad recurrent-layer mode '" + s + "': expected auto, unroll or keep");
    }
}
