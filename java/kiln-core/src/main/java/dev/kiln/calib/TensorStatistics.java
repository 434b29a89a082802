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

    void add(float[] values, long nbSamples) {
        abs.add(values);
        if (signed != null) {
            signed.add(values);
        }
        samples += nbSamples;
    }

    void merge(TensorStatistics other) {
        KilnArgumentException.check((signed != null) == (other.signed != null),
                "cannot merge statistics of tensor '" + name + "': one has a signed histogram, the other not");
        abs.merge(other.abs);
        if (signed != null) {
            signed.merge(other.signed);
        }
        samples += other.samples;
    }

    TensorStatistics copy() {
        return new TensorStatistics(name, abs.copy(), signed == null ? null : signed.copy(), samples);
    }

    /** The histogram itself, for the package (no copy). */
    Histogram absHistogramView() {
        return abs;
    }

    Histogram signedHistogramView() {
        return signed;
    }

    public String name() {
        return name;
    }

    /** A copy of the histogram of |x|. */
    public Histogram absHistogram() {
        return abs.copy();
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
        return abs.stats();
    }

    /** Batch rows seen, as the caller counted them. */
    public long samples() {
        return samples;
    }

    /** Values seen, finite or not. */
    public long elements() {
        return abs.stats().totalCount();
    }

    public long nanCount() {
        return abs.stats().nanCount();
    }

    /** +Inf and -Inf together. */
    public long infCount() {
        return abs.stats().posInfCount() + abs.stats().negInfCount();
    }

    @Override
    public String toString() {
        return "TensorStatistics[" + name + ", " + samples + " samples, " + abs.stats()
                + (signed != null ? ", signed" : "") + "]";
    }
}
