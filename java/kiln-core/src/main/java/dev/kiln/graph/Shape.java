package dev.kiln.graph;

import java.util.Arrays;

/**
 * A tensor shape: a list of dimensions where {@code -1} is an unknown dimension, or an unknown rank
 * ({@link #unknown()}). Immutable.
 */
public final class Shape {
    private static final Shape UNKNOWN = new Shape(null);
    private static final Shape SCALAR = new Shape(new long[0]);

    private final long[] dims; // null: unknown rank

    private Shape(long[] dims) {
        this.dims = dims;
    }

    public static Shape of(long... dims) {
        for (long d : dims) {
            if (d < -1) {
                throw new IllegalArgumentException("shape " + Arrays.toString(dims) + ": dimension " + d + " < -1");
            }
        }
        return dims.length == 0 ? SCALAR : new Shape(dims.clone());
    }

    public static Shape of(int... dims) {
        return of(Arrays.stream(dims).asLongStream().toArray());
    }

    public static Shape unknown() {
        return UNKNOWN;
    }

    public static Shape scalar() {
        return SCALAR;
    }

    public boolean hasRank() {
        return dims != null;
    }

    /** The rank, or -1 when unknown. */
    public int rank() {
        return dims == null ? -1 : dims.length;
    }

    /** Dimension {@code i} (negative counts from the end), -1 when unknown. */
    public long dim(int i) {
        requireRank();
        return dims[i < 0 ? dims.length + i : i];
    }

    /** A copy of the dimensions. */
    public long[] dims() {
        requireRank();
        return dims.clone();
    }

    public boolean isFullyDefined() {
        if (dims == null) {
            return false;
        }
        for (long d : dims) {
            if (d < 0) {
                return false;
            }
        }
        return true;
    }

    /** The number of elements; requires a fully defined shape. */
    public long numElements() {
        if (!isFullyDefined()) {
            throw new IllegalStateException("shape " + this + " is not fully defined");
        }
        long n = 1;
        for (long d : dims) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Whether some tensor could have both shapes: unknown ranks and dimensions match anything. */
    public boolean isCompatibleWith(Shape other) {
        if (dims == null || other.dims == null) {
            return true;
        }
        if (dims.length != other.dims.length) {
            return false;
        }
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] >= 0 && other.dims[i] >= 0 && dims[i] != other.dims[i]) {
                return false;
            }
        }
        return true;
    }

    /** This shape with dimension {@code i} replaced. */
    public Shape withDim(int i, long value) {
        long[] d = dims();
        d[i] = value;
        return of(d);
    }

    private void requireRank() {
        if (dims == null) {
            throw new IllegalStateException("shape has unknown rank");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        if (dims == null) {
            return "<unknown>";
        }
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) {
            b.append(i == 0 ? "" : ",").append(dims[i] < 0 ? "?" : Long.toString(dims[i]));
        }
        return b.append(']').toString();
    }
}
