package dev.kiln.kernels;

import dev.kiln.KilnArgumentException;

import java.util.Arrays;

/**
 * A C-order tensor seen along one axis as {@code [outer, channels, inner]}: {@code outer} is the product of the dims
 * before the axis, {@code channels} the size of the axis, {@code inner} the product of the dims after it. Element
 * {@code (o, c, i)} is at flat index {@code (o * channels + c) * inner + i}. A per-tensor operation is the view
 * {@code [1, 1, n]} ({@link #perTensor}).
 */
public record AxisView(long outer, long channels, long inner) {

    public AxisView {
        KilnArgumentException.check(outer >= 1, "outer must be >= 1, got " + outer);
        KilnArgumentException.check(channels >= 1, "channels must be >= 1, got " + channels);
        KilnArgumentException.check(inner >= 1, "inner must be >= 1, got " + inner);
        KilnArgumentException.check(Math.multiplyHigh(outer, channels) == 0
                        && Math.multiplyHigh(outer * channels, inner) == 0
                        && outer * channels * inner <= Integer.MAX_VALUE - 8,
                "view [" + outer + ", " + channels + ", " + inner + "] has too many elements for a Java array");
    }

    /** The view of {@code shape} along {@code axis}; a negative axis counts from the end, as in TensorFlow. */
    public static AxisView of(long[] shape, int axis) {
        KilnArgumentException.check(shape != null, "shape must not be null");
        KilnArgumentException.check(shape.length > 0, "shape must have at least one dimension (axis " + axis + ")");
        int rank = shape.length;
        KilnArgumentException.check(axis >= -rank && axis < rank,
                "axis " + axis + " is out of range for shape " + Arrays.toString(shape));
        int a = axis < 0 ? axis + rank : axis;
        for (int d = 0; d < rank; d++) {
            KilnArgumentException.check(shape[d] >= 1,
                    "shape " + Arrays.toString(shape) + " has a zero-sized or negative dimension " + d);
        }
        long outer = 1;
        long inner = 1;
        for (int d = 0; d < a; d++) {
            outer = Math.multiplyExact(outer, shape[d]);
        }
        for (int d = a + 1; d < rank; d++) {
            inner = Math.multiplyExact(inner, shape[d]);
        }
        return new AxisView(outer, shape[a], inner);
    }

    /** The same with int dims. */
    public static AxisView of(int[] shape, int axis) {
        KilnArgumentException.check(shape != null, "shape must not be null");
        return of(Arrays.stream(shape).asLongStream().toArray(), axis);
    }

    /** A whole tensor of {@code n} elements as one channel. */
    public static AxisView perTensor(long n) {
        return new AxisView(1, 1, n);
    }

    /** Number of elements. */
    public long size() {
        return outer * channels * inner;
    }

    /** Number of elements as an int (the view is checked to fit a Java array). */
    public int intSize() {
        return (int) size();
    }
}
