package dev.kiln.calib;

import dev.kiln.KilnArgumentException;

/**
 * A histogram of non-negative values as plain data: {@code counts[k]} values in {@code [k * binWidth,
 * (k + 1) * binWidth)}, and {@code max}, the largest value seen. What the threshold methods work on.
 */
public record Bins(long[] counts, double binWidth, float max) {
    public Bins {
        KilnArgumentException.check(counts != null && counts.length > 0, "counts must not be null or empty");
        KilnArgumentException.check(binWidth >= 0 && Double.isFinite(binWidth), "binWidth must be finite and >= 0");
        KilnArgumentException.check(max >= 0f && Float.isFinite(max), "max must be finite and >= 0");
    }

    public int nbBins() {
        return counts.length;
    }

    public long total() {
        long t = 0;
        for (long c : counts) {
            t += c;
        }
        return t;
    }

    /** The left edge of bin k (k may be nbBins: the upper end). */
    public double edge(int k) {
        return k * binWidth;
    }
}
