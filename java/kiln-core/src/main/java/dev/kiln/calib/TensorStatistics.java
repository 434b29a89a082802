package dev.kiln.calib;

import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.RangeStats;

/**
 * What calibration saw of one tensor: a histogram of |x|, optionally a signed one (for asymmetric ranges), the
 * exact range statistics (min, max, NaN and ±Inf counts, which are never binned) and the number of samples (batch
 * rows). Part of {@link CalibrationStatistics}, which owns and mutates it; the accessors return copies.
 */
public final class TensorStatistics {
    private final String name;
    private final Histogram abs;
    private final Histogram signed;
    private long samples;

    TensorStatistics(String name, Histogram abs, Histogram signed, long samples) {
        this.name = name;
        this.abs = abs;
        this.signed = signed;
        this.samples = samples;
    }

    /**
     * With a signed histogram only that one is filled: its positive and negative halves add up exactly to the
     * histogram of |x| (same range, same bins), so keeping both would read every batch twice for nothing.
     */
    void add(float[] values, long nbSamples) {
        if (signed != null) {
            signed.add(values);
        } else {
            abs.add(values);
        }
        samples += nbSamples;
    }

    void merge(TensorStatistics other) {
        KilnArgumentException.check((signed != null) == (other.signed != null),
                "cannot merge statistics of tensor '" + name + "': one has a signed histogram, the other not");
        if (signed != null) {
            signed.merge(other.signed);
        } else {
            abs.merge(other.abs);
        }
        samples += other.samples;
    }

    TensorStatistics copy() {
        return new TensorStatistics(name, abs.copy(), signed == null ? null : signed.copy(), samples);
    }

    /** The histogram of |x|, for the package: itself, or derived exactly from the signed one. */
    Histogram absHistogramView() {
        return signed == null ? abs : Histogram.absoluteOf(signed);
    }

    Histogram signedHistogramView() {
        return signed;
    }

    public String name() {
        return name;
    }

    /** A copy of the histogram of |x|. */
    public Histogram absHistogram() {
        return signed == null ? abs.copy() : Histogram.absoluteOf(signed);
    }

    /** Whether a signed histogram is kept (needed for asymmetric ranges). */
    public boolean hasSigned() {
        return signed != null;
    }

    /** A copy of the signed histogram; fails if none is kept. */
    public Histogram signedHistogram() {
        KilnArgumentException.check(signed != null, "tensor '" + name + "' has no signed histogram");
        return signed.copy();
    }

    /** Exact min, max, absmax, finite count and NaN/±Inf counts of everything seen (what a RangeTracker gives). */
    public RangeStats range() {
        return signed == null ? abs.stats() : signed.stats();
    }

    /** Batch rows seen, as the caller counted them. */
    public long samples() {
        return samples;
    }

    /** Values seen, finite or not. */
    public long elements() {
        return range().totalCount();
    }

    public long nanCount() {
        return range().nanCount();
    }

    /** +Inf and -Inf together. */
    public long infCount() {
        return range().posInfCount() + range().negInfCount();
    }

    @Override
    public String toString() {
        return "TensorStatistics[" + name + ", " + samples + " samples, " + range()
                + (signed != null ? ", signed" : "") + "]";
    }
}
