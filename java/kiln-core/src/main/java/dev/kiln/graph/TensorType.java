package dev.kiln.graph;

import java.util.Objects;

/** The element type and shape of a tensor flowing along an edge (or of a signature input/output). */
public record TensorType(DType dtype, Shape shape) {
    public TensorType {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
    }

    public static TensorType of(DType dtype, long... dims) {
        return new TensorType(dtype, Shape.of(dims));
    }

    @Override
    public String toString() {
        return dtype.name().toLowerCase() + shape;
    }
}
