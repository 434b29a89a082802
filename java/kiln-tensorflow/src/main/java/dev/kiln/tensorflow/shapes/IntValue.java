package dev.kiln.tensorflow.shapes;

import java.util.Arrays;

/**
 * What is known of the value of a small integer tensor (a shape, an axis, paddings): its rank and its elements in
 * row-major order, which may be {@link #UNKNOWN} — TensorFlow's "partial shape" of a shape tensor, as built from Shape, Pack,
 * ConcatV2, StridedSlice and constants.
 */
record IntValue(int rank, long[] elements) {
    /** An element whose value is not known until the graph runs (an unknown dimension read by Shape). */
    static final long UNKNOWN = Long.MIN_VALUE;

    static IntValue scalar(long v) {
        return new IntValue(0, new long[] {v});
    }

    static IntValue vector(long... v) {
        return new IntValue(1, v);
    }

    boolean scalar() {
        return rank == 0;
    }

    /** Whether every element is known (what TensorFlow's constant evaluation of the tensor would give). */
    boolean isExact() {
        return Arrays.stream(elements).noneMatch(e -> e == UNKNOWN);
    }

    int length() {
        return elements.length;
    }

    long get(int i) {
        return elements[i];
    }
}
