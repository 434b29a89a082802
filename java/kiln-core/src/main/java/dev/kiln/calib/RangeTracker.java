package dev.kiln.calib;

import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.RangeStats;

/**
 * Running range statistics of a tensor over a stream of batches: min, max, absmax, count, and the NaN/±Inf counts
 * (excluded from the range, reported). Exact, so the result does not depend on batch size or order, and trackers
 * from other threads or machines {@link #merge}. Not thread safe: use one per thread and merge.
 */
public final class RangeTracker {
    private final Kernels kernels;
    private RangeStats stats = RangeStats.EMPTY;

    public RangeTracker() {
        this(KernelBackends.get());
    }

    public RangeTracker(Kernels kernels) {
        KilnArgumentException.check(kernels != null, "kernels must not be null");
        this.kernels = kernels;
    }

    /** Adds a batch (may be empty). */
    public RangeTracker add(float[] batch) {
        stats = stats.merge(kernels.rangeStats(batch));
        return this;
    }

    /** Adds what another tracker saw. */
    public RangeTracker merge(RangeTracker other) {
        KilnArgumentException.check(other != null, "other must not be null");
        stats = stats.merge(other.stats);
        return this;
    }

    /** Adds statistics computed elsewhere. */
    public RangeTracker merge(RangeStats other) {
        KilnArgumentException.check(other != null, "other must not be null");
        stats = stats.merge(other);
        return this;
    }

    public RangeStats stats() {
        return stats;
    }

    @Override
    public String toString() {
        return "RangeTracker" + stats;
    }
}
