package dev.kiln.calib;

import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.RangeStats;
import dev.kiln.kernels.ValidatingKernels;

import java.util.Arrays;

/**
 * A streaming, mergeable calibration histogram with fixed bins over {@code [0, range)}: of |x| ({@link #absolute}),
 * or two-sided ({@link #signed}: x >= 0 in {@link #counts()}, x < 0 by -x in {@link #negCounts()}) for asymmetric
 * ranges. {@code range} is always the smallest power of two strictly above the largest finite |x| seen; when a batch
 * exceeds it, the range doubles and bin pairs merge, which is exact (see {@code kiln_histogram} in kiln.h). So the
 * counts depend only on the multiset of values: not on batch size, order, or how the data was split between
 * histograms that are {@link #merge}d. NaN and ±Inf are counted in {@link #stats()} and not binned.
 * The per-batch work runs on the {@link Kernels} backend. Not thread safe: use one per thread and merge.
 */
public final class Histogram {
    /** Default number of bins (TensorRT's and ModelOpt's 2048). */
    public static final int DEFAULT_BINS = 2048;
    /** Range exponents are kept within normal floats for 1/range: range in [2^-126, 2^126]. */
    static final int MIN_EXP = -126;
    static final int MAX_EXP = 126;

    private final Kernels kernels;
    private final int nbBins;
    private final boolean signed;
    private final long[] counts;
    private final long[] negCounts;
    /** range = 2^rangeExp; Integer.MIN_VALUE while no non-zero finite value has been seen. */
    private int rangeExp = Integer.MIN_VALUE;
    private RangeStats stats = RangeStats.EMPTY;

    private Histogram(Kernels kernels, int nbBins, boolean signed) {
        KilnArgumentException.check(kernels != null, "kernels must not be null");
        ValidatingKernels.checkHistogramArgs(1f, nbBins);
        this.kernels = kernels;
        this.nbBins = nbBins;
        this.signed = signed;
        this.counts = new long[nbBins];
        this.negCounts = signed ? new long[nbBins] : null;
    }

    /** A histogram of |x| with 2048 bins on the default backend. */
    public static Histogram absolute() {
        return absolute(DEFAULT_BINS);
    }

    /** A histogram of |x| with {@code nbBins} bins (even, >= 2) on the default backend. */
    public static Histogram absolute(int nbBins) {
        return new Histogram(KernelBackends.get(), nbBins, false);
    }

    /** A two-sided histogram (positive and negative halves) with {@code nbBins} bins per side. */
    public static Histogram signed(int nbBins) {
        return new Histogram(KernelBackends.get(), nbBins, true);
    }

    /** The general form: a backend, the bins per side, and whether it is two-sided. */
    public static Histogram create(Kernels kernels, int nbBins, boolean signed) {
        return new Histogram(kernels, nbBins, signed);
    }

    /** Adds a batch (may be empty). */
    public Histogram add(float[] batch) {
        KilnArgumentException.check(batch != null, "batch must not be null");
        RangeStats s = kernels.rangeStats(batch);
        stats = stats.merge(s);
        if (s.count() == 0) {
            return this;
        }
        growTo(exponentAbove(s.absMax()));
        if (rangeExp == Integer.MIN_VALUE) {
            // all zeros so far: they fall into bin 0 at any range
            counts[0] += s.count() - (signed ? countNegatives(batch) : 0);
            if (signed) {
                negCounts[0] += countNegatives(batch);
            }
            return this;
        }
        kernels.histogram(batch, Math.scalb(1f, -rangeExp), nbBins, signed, counts, negCounts);
        return this;
    }

    private static long countNegatives(float[] batch) {
        long n = 0;
        for (float v : batch) {
            if (v < 0f) {
                n++;
            }
        }
        return n;
    }

    /** Exponent of the smallest power of two strictly above {@code absMax}; MIN_VALUE for 0. */
    static int exponentAbove(float absMax) {
        if (absMax == 0f) {
            return Integer.MIN_VALUE;
        }
        int e = Math.getExponent(absMax) + 1; // 2^getExponent <= absMax < 2^(getExponent + 1)
        return Math.max(MIN_EXP, Math.min(MAX_EXP, e));
    }

    /** Grows the range to 2^exp (if larger), merging bin pairs. */
    private void growTo(int exp) {
        if (exp == Integer.MIN_VALUE || exp <= rangeExp) {
            return;
        }
        if (rangeExp != Integer.MIN_VALUE) {
            for (int k = rangeExp; k < exp; k++) {
                halve(counts);
                if (signed) {
                    halve(negCounts);
                }
            }
        }
        rangeExp = exp;
    }

    private void halve(long[] c) {
        int half = nbBins / 2;
        for (int j = 0; j < half; j++) {
            c[j] = c[2 * j] + c[2 * j + 1];
        }
        Arrays.fill(c, half, nbBins, 0L);
    }

    /** Adds another histogram's data (same bins and sidedness); the result is as if one had seen all the data. */
    public Histogram merge(Histogram other) {
        KilnArgumentException.check(other != null, "other must not be null");
        KilnArgumentException.check(other.nbBins == nbBins && other.signed == signed,
                "cannot merge a histogram of " + other.nbBins + (other.signed ? " signed" : "") + " bins into one of "
                        + nbBins + (signed ? " signed" : "") + " bins");
        Histogram o = other.copy();
        o.growTo(rangeExp);
        growTo(o.rangeExp);
        for (int k = 0; k < nbBins; k++) {
            counts[k] += o.counts[k];
            if (signed) {
                negCounts[k] += o.negCounts[k];
            }
        }
        stats = stats.merge(o.stats);
        return this;
    }

    /** A deep copy (same backend). */
    public Histogram copy() {
        return restore(kernels, nbBins, signed, rangeExp, counts, negCounts, stats);
    }

    /**
     * Rebuilds a histogram from saved state (see {@link CalibrationStatistics#load}): the exponent of its range
     * ({@link Integer#MIN_VALUE} while only zeros were seen), the counts and the statistics. The caller validates.
     */
    static Histogram restore(Kernels kernels, int nbBins, boolean signed, int rangeExp, long[] counts,
                             long[] negCounts, RangeStats stats) {
        Histogram h = new Histogram(kernels, nbBins, signed);
        System.arraycopy(counts, 0, h.counts, 0, nbBins);
        if (signed) {
            System.arraycopy(negCounts, 0, h.negCounts, 0, nbBins);
        }
        h.rangeExp = rangeExp;
        h.stats = stats;
        return h;
    }

    /** The histogram of |x| that a signed histogram holds: both halves added, same range and statistics. */
    static Histogram absoluteOf(Histogram signed) {
        KilnArgumentException.check(signed.signed, "absoluteOf needs a signed histogram");
        return restore(signed.kernels, signed.nbBins, false, signed.rangeExp, signed.absCounts(), null, signed.stats);
    }

    /** The exponent of {@link #range()}; {@link Integer#MIN_VALUE} while only zeros were seen. */
    int rangeExponent() {
        return rangeExp;
    }

    public int nbBins() {
        return nbBins;
    }

    public boolean isSigned() {
        return signed;
    }

    /** The upper end of the bins, a power of two; 0 while only zeros were seen. */
    public float range() {
        return rangeExp == Integer.MIN_VALUE ? 0f : Math.scalb(1f, rangeExp);
    }

    /** Width of one bin: range / nbBins. */
    public double binWidth() {
        return (double) range() / nbBins;
    }

    /** Counts of |x| (absolute) or of x >= 0 (signed); a copy. */
    public long[] counts() {
        return counts.clone();
    }

    /** Counts of -x for x < 0 (signed only); a copy. */
    public long[] negCounts() {
        KilnArgumentException.check(signed, "negCounts exist only in a signed histogram");
        return negCounts.clone();
    }

    /** Counts of |x| whatever the sidedness (a signed histogram's halves added); a copy. */
    public long[] absCounts() {
        long[] c = counts.clone();
        if (signed) {
            for (int k = 0; k < nbBins; k++) {
                c[k] += negCounts[k];
            }
        }
        return c;
    }

    /** Range statistics of everything seen, with the NaN/Inf counts that were not binned. */
    public RangeStats stats() {
        return stats;
    }

    /** Number of values binned (the finite ones). */
    public long total() {
        return stats.count();
    }

    /** The |x| histogram as the pure data the threshold methods work on. */
    public Bins absBins() {
        return new Bins(absCounts(), binWidth(), stats.absMax());
    }

    /** The positive half (signed) as {@link Bins}; its max is the largest x seen (0 if none is positive). */
    public Bins positiveBins() {
        KilnArgumentException.check(signed, "positiveBins needs a signed histogram");
        return new Bins(counts.clone(), binWidth(), Math.max(0f, stats.max()));
    }

    /** The negative half (signed) as {@link Bins} of -x; its max is -min (0 if none is negative). */
    public Bins negativeBins() {
        KilnArgumentException.check(signed, "negativeBins needs a signed histogram");
        return new Bins(negCounts.clone(), binWidth(), Math.max(0f, -stats.min()));
    }

    @Override
    public String toString() {
        return "Histogram[" + nbBins + (signed ? " signed" : "") + " bins, range " + range() + ", " + stats + "]";
    }
}
