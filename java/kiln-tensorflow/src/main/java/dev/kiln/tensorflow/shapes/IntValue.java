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

    /**
     * A tensor whose value TensorFlow cannot know before the graph runs either: it depends on a graph input (a
     * placeholder, a random op, the shape of a tensor whose shape is not fully known). Rules may then reason as
     * TensorFlow does about an unknown value; a value that is merely not evaluated by Kiln is null instead, and a rule
     * that needs it gives up.
     */
    static final IntValue DYNAMIC = new IntValue(-1, new long[0]);

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
        return this != DYNAMIC && Arrays.stream(elements).noneMatch(e -> e == UNKNOWN);
    }

    /** Whether TensorFlow could not evaluate it before the graph runs: it is {@link #DYNAMIC} or only partly known. */
    boolean dependsOnInputs() {
        return !isExact();
    }

    int length() {
        return elements.length;
    }

    long get(int i) {
        return elements[i];
    }
}
