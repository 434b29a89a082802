package dev.kiln.calib;

import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;

/**
 * Threshold selection: pure functions over a histogram of |x| ({@link Bins}). Every method fails with
 * {@link KilnArgumentException} on a histogram that holds no value (an all-NaN tensor, or none seen), and returns
 * a threshold in {@code (0, max]}, except 0 for all-zero data.
 */
public final class Thresholds {
    private Thresholds() {
    }

    private static long checkNotEmpty(Bins bins) {
        long total = bins.total();
        KilnArgumentException.check(total > 0,
                "the histogram holds no finite value (all NaN/Inf, or nothing seen): no threshold can be chosen");
        return total;
    }

    /** The largest |x| seen. */
    public static float minmax(Bins bins) {
        checkNotEmpty(bins);
        return bins.max();
    }

    /** Clips the edge of bin {@code k} to the largest value seen. */
    private static float edgeAtMost(Bins bins, int k) {
        return (float) Math.min(bins.edge(k), bins.max());
    }

    /**
     * TensorRT's entropy calibration (as in NVIDIA's pytorch-quantization / ModelOpt {@code _compute_amax_entropy}):
     * bin 0 is replaced by bin 1 (zeros are ignored); for every candidate i from {@code 2^(numBits-1)} (128) bins up
     * to all bins, the reference P is bins[0..i) with the mass beyond i folded into its last bin, and Q is bins[0..i)
     * merged into 128 levels (level of bin j = floor(j * 128 / i)) and expanded back uniformly over the level's
     * non-empty bins; the candidate with the smallest KL(P || Q) wins (the last one among equals), and the threshold
     * is its edge {@code i * binWidth}.
     */
    public static float entropy(Bins bins, int numBits) {
        checkNotEmpty(bins);
        long[] c = bins.counts();
        int nb = c.length;
        int levels = 1 << (numBits - 1);
        if (bins.max() == 0f || nb <= levels) {
            return bins.max();
        }
        double[] h = new double[nb];
        for (int k = 0; k < nb; k++) {
            h[k] = c[k];
        }
        h[0] = h[1];
        double[] suffix = new double[nb + 1];
        for (int k = nb - 1; k >= 0; k--) {
            suffix[k] = suffix[k + 1] + h[k];
        }
        double[] levelSum = new double[levels];
        int[] levelNonEmpty = new int[levels];
        double[] p = new double[nb];
        double[] q = new double[nb];
        double best = Double.POSITIVE_INFINITY;
        int bestI = nb;
        for (int i = levels; i <= nb; i++) {
            java.util.Arrays.fill(levelSum, 0);
            java.util.Arrays.fill(levelNonEmpty, 0);
            for (int j = 0; j < i; j++) {
                if (h[j] != 0) {
                    int lv = (int) ((long) j * levels / i);
                    levelSum[lv] += h[j];
                    levelNonEmpty[lv]++;
                }
            }
            double qTotal = 0;
            for (int j = 0; j < i; j++) {
                if (h[j] != 0) {
                    int lv = (int) ((long) j * levels / i);
                    q[j] = levelSum[lv] / levelNonEmpty[lv];
                } else {
                    q[j] = 0;
                }
                qTotal += q[j];
            }
            double pTotal = 0;
            for (int j = 0; j < i; j++) {
                p[j] = h[j];
            }
            p[i - 1] += suffix[i];
            for (int j = 0; j < i; j++) {
                pTotal += p[j];
            }
            double kl = 0;
            for (int j = 0; j < i; j++) {
                if (p[j] > 0) {
                    double pj = p[j] / pTotal;
                    double qj = q[j] / qTotal;
                    if (qj == 0) {
                        kl = Double.POSITIVE_INFINITY;
                        break;
                    }
                    kl += pj * Math.log(pj / qj);
                }
            }
            if (kl <= best) {
                best = kl;
                bestI = i;
            }
        }
        return edgeAtMost(bins, bestI);
    }

    /**
     * The upper edge of the first bin at which the cumulative count reaches {@code percentile}% of the total (so at
     * least that share of the values lies below the threshold), clipped to the largest value seen.
     */
    public static float percentile(Bins bins, double percentile) {
        KilnArgumentException.check(percentile > 0 && percentile <= 100,
                "percentile must be within (0, 100], got " + percentile);
        long total = checkNotEmpty(bins);
        long[] c = bins.counts();
        // the count that must lie below: ceil(p% of total), with a little slack for 99.9 not being exact in binary
        double exact = percentile * total / 100.0;
        long target = Math.max(1, (long) Math.ceil(exact - 1e-9 * exact));
        long cum = 0;
        for (int k = 0; k < c.length; k++) {
            cum += c[k];
            if (cum >= target) {
                return edgeAtMost(bins, k + 1);
            }
        }
        return bins.max();
    }

    /**
     * The threshold that minimises the expected squared error of symmetric quantization to
     * {@code [-(2^(numBits-1) - 1), 2^(numBits-1) - 1]} over the histogram (each bin's values at its centre):
     * candidates are every bin edge up to the largest value, and the largest value itself.
     */
    public static float mse(Bins bins, int numBits) {
        checkNotEmpty(bins);
        long[] c = bins.counts();
        if (bins.max() == 0f) {
            return 0f;
        }
        int nb = c.length;
        int qmax = (1 << (numBits - 1)) - 1;
        double w = bins.binWidth();
        int last = 0;
        for (int k = 0; k < nb; k++) {
            if (c[k] != 0) {
                last = k;
            }
        }
        double bestErr = Double.POSITIVE_INFINITY;
        float best = bins.max();
        for (int i = 1; i <= last + 2; i++) {
            float t = i <= last + 1 ? edgeAtMost(bins, i) : bins.max();
            if (t <= 0f) {
                continue;
            }
            double err = expectedSquaredError(c, w, t, qmax, last, bins.max());
            if (err < bestErr) {
                bestErr = err;
                best = t;
            }
        }
        return best;
    }

    /** Sum over bins of count * (centre - dequant(quant(centre)))^2 for symmetric quantization at threshold t. */
    static double expectedSquaredError(long[] c, double w, float t, int qmax, int last, float max) {
        double scale = (double) t / qmax;
        double err = 0;
        for (int k = 0; k <= last; k++) {
            if (c[k] == 0) {
                continue;
            }
            double centre = Math.min((k + 0.5) * w, max);
            double qv = Math.min(Math.rint(centre / scale), qmax);
            double d = centre - qv * scale;
            err += c[k] * d * d;
        }
        return err;
    }

    /** The error {@link #mse} minimises, for comparing thresholds (lower is better). */
    public static double expectedSquaredError(Bins bins, float threshold, int numBits) {
        KilnArgumentException.check(threshold > 0 && Float.isFinite(threshold), "threshold must be finite and > 0");
        long[] c = bins.counts();
        return expectedSquaredError(c, bins.binWidth(), threshold, (1 << (numBits - 1)) - 1, c.length - 1, bins.max())
                / Math.max(1, bins.total());
    }

    /** Per-channel thresholds for weights: the channel's max |w| along the view's axis. */
    public static float[] perChannelAbsMax(float[] weights, AxisView view) {
        return perChannelAbsMax(KernelBackends.get(), weights, view);
    }

    public static float[] perChannelAbsMax(Kernels kernels, float[] weights, AxisView view) {
        KilnArgumentException.check(kernels != null, "kernels must not be null");
        return kernels.channelAbsMax(weights, view);
    }

    /** Symmetric per-tensor threshold of a histogram by a method. */
    public static float threshold(Histogram histogram, ThresholdMethod method) {
        KilnArgumentException.check(histogram != null, "histogram must not be null");
        KilnArgumentException.check(method != null, "method must not be null");
        return method.threshold(histogram.absBins());
    }

    /**
     * Asymmetric range {min, max} of a signed histogram: the method applied to each half separately (a half that
     * saw nothing gives 0).
     */
    public static float[] asymmetricRange(Histogram histogram, ThresholdMethod method) {
        KilnArgumentException.check(histogram != null && histogram.isSigned(), "histogram must be a signed histogram");
        KilnArgumentException.check(method != null, "method must not be null");
        checkNotEmpty(histogram.absBins());
        Bins pos = histogram.positiveBins();
        Bins neg = histogram.negativeBins();
        float hi = pos.total() > 0 ? method.threshold(pos) : 0f;
        float lo = neg.total() > 0 ? -method.threshold(neg) : 0f;
        return new float[] {lo, hi};
    }
}
