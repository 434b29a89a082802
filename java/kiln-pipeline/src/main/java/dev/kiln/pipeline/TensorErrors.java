package dev.kiln.pipeline;

import dev.kiln.graph.Tensor;

/**
 * How far tensor {@code b} is from reference {@code a}, Polygraphy style: max and mean |a-b|, max |a-b|/|a| (0/0 = 0,
 * x/0 = infinity), cosine similarity, and how many elements break |a-b| <= atol + rtol*|a|. Accumulates over batches.
 */
final class TensorErrors {
    private double maxAbs;
    private double sumAbs;
    private double sumAbsRef;
    private double maxRel;
    private double dot;
    private double aa;
    private double bb;
    private long elements;
    private long failing;

    void add(double[] a, double[] b, double atol, double rtol) {
        for (int i = 0; i < a.length; i++) {
            double x = a[i];
            double y = b[i];
            double d = x == y || Double.isNaN(x) && Double.isNaN(y) ? 0 : Math.abs(x - y);
            if (Double.isNaN(d)) {
                d = Double.POSITIVE_INFINITY;
            }
            maxAbs = Math.max(maxAbs, d);
            sumAbs += d;
            sumAbsRef += Math.abs(x);
            double rel = d == 0 ? 0 : x == 0 ? Double.POSITIVE_INFINITY : d / Math.abs(x);
            maxRel = Math.max(maxRel, rel);
            if (!(d <= atol + rtol * Math.abs(x))) {
                failing++;
            }
            dot += x * y;
            aa += x * x;
            bb += y * y;
        }
        elements += a.length;
    }

    double maxAbs() {
        return maxAbs;
    }

    double meanAbs() {
        return elements == 0 ? 0 : sumAbs / elements;
    }

    /** Mean |a-b| over mean |a|: a scale-free error for finding where it jumps. */
    double relativeMeanError() {
        return sumAbsRef == 0 ? meanAbs() : sumAbs / sumAbsRef;
    }

    double maxRel() {
        return maxRel;
    }

    double cosine() {
        return aa == 0 && bb == 0 ? 1 : dot / Math.sqrt(aa * bb);
    }

    long elements() {
        return elements;
    }

    long failing() {
        return failing;
    }

    /** Any numeric tensor as doubles (float16 and bfloat16 decoded). */
    static double[] values(Tensor t) {
        return t.asDoubles();
    }
}
