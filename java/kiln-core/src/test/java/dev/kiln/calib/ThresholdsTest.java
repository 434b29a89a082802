package dev.kiln.calib;

import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.JavaKernels;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Threshold methods on real distributions. */
class ThresholdsTest {
    private static final long SEED = System.nanoTime();

    private static Histogram hist(float[] x) {
        return Histogram.create(new JavaKernels(), 2048, false).add(x);
    }

    private static float[] gaussian(int n, SplittableRandom rnd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static float[] laplaceWithOutliers(int n, SplittableRandom rnd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            double u = rnd.nextDouble() - 0.5;
            x[i] = (float) (-Math.signum(u) * Math.log(1 - 2 * Math.abs(u)));
        }
        for (int i = 0; i < 20; i++) {
            x[rnd.nextInt(n)] = (float) (rnd.nextBoolean() ? 1 : -1) * (float) rnd.nextDouble(60, 100);
        }
        return x;
    }

    @Test
    void minmaxIsTheLargestMagnitude() {
        float[] x = {0.5f, -3.25f, 2f};
        assertEquals(3.25f, Thresholds.threshold(hist(x), ThresholdMethod.minmax()));
    }

    @Test
    void entropyAndPercentileClipOutliersWhileMinmaxDoesNot() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Histogram h = hist(laplaceWithOutliers(400_000, rnd));
        float minmax = Thresholds.threshold(h, ThresholdMethod.minmax());
        float entropy = Thresholds.threshold(h, ThresholdMethod.entropy());
        float pct = Thresholds.threshold(h, ThresholdMethod.percentile(99.99));
        float mse = Thresholds.threshold(h, ThresholdMethod.mse());
        assertTrue(minmax >= 60, "minmax " + minmax);
        assertTrue(entropy < 30 && entropy > 3, "entropy " + entropy + " seed " + SEED);
        // Laplace(1): P(|x| > t) = e^-t, so the 99.99th percentile is ln(10^4) = 9.2
        assertTrue(pct > 7.5 && pct < 11.5, "percentile " + pct);
        assertTrue(mse <= minmax, "mse " + mse);
        // mse's error is no worse than minmax's on a heavy tail
        Bins b = h.absBins();
        assertTrue(Thresholds.expectedSquaredError(b, mse, 8) <= Thresholds.expectedSquaredError(b, minmax, 8));
    }

    @Test
    void mseClipsTheLongTailOfALaplacian() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        float[] x = laplaceWithOutliers(400_000, rnd);
        for (int i = 0; i < x.length; i++) {
            x[i] = Math.abs(x[i]) >= 60 ? 0f : x[i];
        }
        Histogram h = hist(x);
        float minmax = Thresholds.threshold(h, ThresholdMethod.minmax());
        float mse = Thresholds.threshold(h, ThresholdMethod.mse());
        assertTrue(mse < 0.9 * minmax, "mse " + mse + " minmax " + minmax);
        Bins b = h.absBins();
        assertTrue(Thresholds.expectedSquaredError(b, mse, 8) < Thresholds.expectedSquaredError(b, minmax, 8));
    }

    @Test
    void gaussianThresholdsAreSensible() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Histogram h = hist(gaussian(400_000, rnd));
        float minmax = Thresholds.threshold(h, ThresholdMethod.minmax());
        float entropy = Thresholds.threshold(h, ThresholdMethod.entropy());
        float pct = Thresholds.threshold(h, ThresholdMethod.percentile(99.9));
        float mse = Thresholds.threshold(h, ThresholdMethod.mse());
        assertTrue(minmax > 4 && minmax < 6, "minmax " + minmax);
        // 99.9% of |N(0,1)| lies below 3.29
        assertTrue(Math.abs(pct - 3.29) < 0.1, "percentile " + pct);
        assertTrue(entropy > 2 && entropy <= minmax, "entropy " + entropy);
        assertTrue(mse > 2 && mse <= minmax, "mse " + mse);
    }

    @Test
    void uniformDataKeepsNearlyItsFullRange() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        float[] x = new float[200_000];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-3, 3);
        }
        Histogram h = hist(x);
        for (ThresholdMethod m : new ThresholdMethod[] {ThresholdMethod.entropy(), ThresholdMethod.percentile(99.99),
                ThresholdMethod.mse()}) {
            float t = Thresholds.threshold(h, m);
            assertTrue(t > 2.7 && t <= 3.0001, m + " " + t);
        }
    }

    @Test
    void percentileMatchesAStraightforwardSortOfTheData() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        float[] x = gaussian(100_000, rnd);
        Histogram h = hist(x);
        float[] abs = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            abs[i] = Math.abs(x[i]);
        }
        Arrays.sort(abs);
        float exact = abs[(int) Math.ceil(0.999 * abs.length) - 1];
        float t = Thresholds.threshold(h, ThresholdMethod.percentile(99.9));
        assertTrue(t >= exact && t - exact <= h.binWidth() + 1e-6, "threshold " + t + " exact " + exact);
    }

    @Test
    void mseMatchesABruteForceSearch() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Bins b = hist(laplaceWithOutliers(50_000, rnd)).absBins();
        float best = Float.NaN;
        double bestErr = Double.POSITIVE_INFINITY;
        for (int i = 1; i <= b.nbBins(); i++) {
            float t = (float) Math.min(b.edge(i), b.max());
            double e = Thresholds.expectedSquaredError(b, t, 8);
            if (e < bestErr) {
                bestErr = e;
                best = t;
            }
        }
        float mse = Thresholds.mse(b, 8);
        assertTrue(Thresholds.expectedSquaredError(b, mse, 8) <= bestErr + 1e-12, mse + " vs " + best);
    }

    @Test
    void entropyMatchesAStraightforwardKlSearch() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Bins b = hist(laplaceWithOutliers(50_000, rnd)).absBins();
        assertEquals(NaiveEntropy.threshold(b), Thresholds.entropy(b, 8));
    }

    @Test
    void asymmetricRangeUsesEachHalf() {
        Histogram h = Histogram.create(new JavaKernels(), 64, true).add(new float[] {-1f, -0.5f, 0f, 2f, 3f, 6f});
        assertArrayEquals(new float[] {-1f, 6f}, Thresholds.asymmetricRange(h, ThresholdMethod.minmax()));
        assertArrayEquals(new float[] {2f, 3f},
                Thresholds.perChannelAbsMax(new float[] {1f, -3f, -2f, 0f}, AxisView.of(new long[] {2, 2}, 1)));
    }

    @Test
    void methodsParse() {
        assertEquals("entropy", ThresholdMethod.parse("entropy").toString());
        assertEquals(new ThresholdMethod.Percentile(99.9), ThresholdMethod.parse("percentile:99.9"));
    }

    /** An independent, literal transcription of the KL search (array copies, no reuse). */
    static final class NaiveEntropy {
        static float threshold(Bins bins) {
            long[] c = bins.counts();
            double[] h = new double[c.length];
            for (int k = 0; k < c.length; k++) {
                h[k] = c[k];
            }
            h[0] = h[1];
            double bestKl = Double.POSITIVE_INFINITY;
            int bestI = -1;
            for (int i = 128; i <= h.length; i++) {
                double[] p = Arrays.copyOf(h, i);
                for (int k = i; k < h.length; k++) {
                    p[i - 1] += h[k];
                }
                double[] q = new double[i];
                for (int level = 0; level < 128; level++) {
                    int start = (int) Math.ceil(level * i / 128.0);
                    int end = (int) Math.ceil((level + 1) * i / 128.0);
                    double sum = 0;
                    int nonEmpty = 0;
                    for (int j = start; j < end; j++) {
                        sum += h[j];
                        nonEmpty += h[j] != 0 ? 1 : 0;
                    }
                    for (int j = start; j < end; j++) {
                        q[j] = h[j] != 0 ? sum / nonEmpty : 0;
                    }
                }
                double ps = Arrays.stream(p).sum();
                double qs = Arrays.stream(q).sum();
                double kl = 0;
                for (int j = 0; j < i; j++) {
                    if (p[j] > 0) {
                        kl += q[j] == 0 ? Double.POSITIVE_INFINITY : (p[j] / ps) * Math.log((p[j] / ps) / (q[j] / qs));
                    }
                }
                if (kl <= bestKl) {
                    bestKl = kl;
                    bestI = i;
                }
            }
            return (float) Math.min(bestI * bins.binWidth(), bins.max());
        }
    }
}
