package dev.kiln.graph;

import java.util.Objects;

/**
 * A public input or output of the model: its signature name (what users feed and fetch, e.g. "input_1"), the tensor
 * inside the graph it maps to, and its declared type.
 */
public record SignatureTensor(String name, TensorRef tensor, TensorType type) {
    public SignatureTensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(tensor, "tensor");
        Objects.requireNonNull(type, "type");
    }

    public SignatureTensor withTensor(TensorRef t) {
        return new SignatureTensor(name, t, type);
    }

    public SignatureTensor withType(TensorType t) {
        return new SignatureTensor(name, tensor, t);
    }
}
