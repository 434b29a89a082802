package dev.kiln.sparse;

import dev.kiln.KilnArgumentException;

import java.util.Arrays;

/**
 * Where the input-channel axis of a TensorFlow weight is (the axis N:M sparsity runs along):
 * MatMul {@code [in, out]} axis 0; Conv2D {@code [h, w, in, out]} (HWIO) axis 2.
 */
public enum WeightLayout {
    MATMUL(2, 0),
    CONV2D_HWIO(4, 2);

    private final int rank;
    private final int inputAxis;

    WeightLayout(int rank, int inputAxis) {
        this.rank = rank;
        this.inputAxis = inputAxis;
    }

    public int rank() {
        return rank;
    }

    /** The input-channel axis. */
    public int inputAxis() {
        return inputAxis;
    }

    /** Checks that {@code shape} has this layout's rank. */
    public void checkShape(long[] shape) {
        KilnArgumentException.check(shape != null, "shape must not be null");
        KilnArgumentException.check(shape.length == rank,
                name() + " weights have rank " + rank + ", got shape " + Arrays.toString(shape));
    }
}
