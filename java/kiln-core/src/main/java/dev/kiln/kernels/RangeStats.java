package dev.kiln.kernels;

import dev.kiln.KilnArgumentException;

/**
 * Range statistics of a batch or a stream (see {@code kiln_range_stats}): min/max/absmax of the finite values, the
 * number of finite values, and the counts of NaN, +Inf and -Inf seen (excluded from everything else, never folded
 * into the range). With no finite value: min = +Inf, max = -Inf, absMax = 0. Exact, so {@link #merge} is order
 * independent.
 */
public record RangeStats(float min, float max, float absMax, long count, long nanCount, long posInfCount,
                         long negInfCount) {

    /** The statistics of nothing. */
    public static final RangeStats EMPTY =
            new RangeStats(Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, 0, 0, 0, 0);

    public RangeStats {
        KilnArgumentException.check(count >= 0 && nanCount >= 0 && posInfCount >= 0 && negInfCount >= 0,
                "counts must be >= 0");
        KilnArgumentException.check(!Float.isNaN(min) && !Float.isNaN(max) && !Float.isNaN(absMax),
                "min, max and absMax must not be NaN");
    }

    /** Combines two statistics as if their values had been seen in one pass. */
    public RangeStats merge(RangeStats other) {
        return new RangeStats(Math.min(min, other.min), Math.max(max, other.max), Math.max(absMax, other.absMax),
                count + other.count, nanCount + other.nanCount, posInfCount + other.posInfCount,
                negInfCount + other.negInfCount);
    }

    /** Whether any finite value was seen. */
    public boolean hasFinite() {
        return count > 0;
    }

    /** Number of non-finite values seen (NaN, +Inf, -Inf). */
    public long nonFiniteCount() {
        return nanCount + posInfCount + negInfCount;
    }

    /** Every value seen, finite or not. */
    public long totalCount() {
        return count + nonFiniteCount();
    }
}
