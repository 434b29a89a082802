package dev.kiln.eval;

import dev.kiln.graph.Tensor;

/**
 * How far one tensor is from another: the oracle check of every conversion test.
 *
 * <p>{@code maxAbsError} is max |expected - actual| over all elements. {@code maxRelError} is maxAbsError divided by
 * the largest |expected| element (relative to the tensor's scale, not per element, so values near zero do not blow it
 * up); when expected is all zeros it equals maxAbsError. A NaN or infinity where the other tensor has a different
 * value gives an infinite error; NaN against NaN counts as equal. When the dtypes or shapes differ, {@code matches}
 * is false, the errors are infinite and {@code message} says what differs.
 */
public record TensorComparison(boolean shapeAndTypeMatch, double maxAbsError, double maxRelError, long elements,
                               String message) {

    /** Compares {@code actual} against {@code expected}. */
    public static TensorComparison compare(Tensor expected, Tensor actual) {
        if (expected.dtype() != actual.dtype()) {
            return mismatch("dtype differs: expected " + expected.type() + ", got " + actual.type());
        }
        if (!expected.shape().equals(actual.shape())) {
            return mismatch("shape differs: expected " + expected.type() + ", got " + actual.type());
        }
        long n = expected.numElements();
        if (expected.dtype() == dev.kiln.graph.DType.STRING) {
            boolean same = true;
            for (int i = 0; i < n && same; i++) {
                same = java.util.Arrays.equals(expected.strings().get(i), actual.strings().get(i));
            }
            double e = same ? 0 : Double.POSITIVE_INFINITY;
            return new TensorComparison(true, e, e, n, same ? "equal" : "string values differ");
        }
        double[] a = values(expected);
        double[] b = values(actual);
        double maxAbs = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            double x = a[i];
            double y = b[i];
            if (Double.isFinite(x)) {
                scale = Math.max(scale, Math.abs(x));
            }
            double d;
            if (Double.isNaN(x) && Double.isNaN(y)) {
                d = 0;
            } else if (x == y) {
                d = 0; // equal infinities too
            } else {
                d = Math.abs(x - y);
                if (Double.isNaN(d)) {
                    d = Double.POSITIVE_INFINITY;
                }
            }
            maxAbs = Math.max(maxAbs, d);
        }
        double rel = scale > 0 ? maxAbs / scale : maxAbs;
        return new TensorComparison(true, maxAbs, rel, n,
                String.format("max abs error %.3g, max rel error %.3g over %d elements", maxAbs, rel, n));
    }

    /** Whether the shapes and types match and the relative error is at most {@code tolerance}. */
    public boolean within(double tolerance) {
        return shapeAndTypeMatch && maxRelError <= tolerance;
    }

    private static TensorComparison mismatch(String message) {
        return new TensorComparison(false, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, 0, message);
    }

    private static double[] values(Tensor t) {
        return t.asDoubles();
    }

    static float halfToFloat(short h) {
        return dev.kiln.kernels.JavaKernels.fromHalf(h);
    }

    @Override
    public String toString() {
        return message;
    }
}
