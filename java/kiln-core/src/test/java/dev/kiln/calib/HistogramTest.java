package dev.kiln.calib;

import dev.kiln.kernels.JavaKernels;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class HistogramTest {
    private static final long SEED = System.nanoTime();

    /** Data whose magnitude grows, so later batches exceed the range and force doubling. */
    private static float[] data(int n) {
        SplittableRandom rnd = new SplittableRandom(SEED);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (rnd.nextGaussian() * Math.pow(2, rnd.nextInt(12) - 6));
            if (rnd.nextInt(500) == 0) {
                x[i] = rnd.nextInt(3) == 0 ? Float.NaN : 0f;
            }
        }
        return x;
    }

    private static void shuffle(float[] x, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = x.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            float t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
    }

    private static Histogram inBatches(Kernels k, float[] x, int batch, boolean signed) {
        Histogram h = Histogram.create(k, 2048, signed);
        for (int i = 0; i < x.length; i += batch) {
            h.add(Arrays.copyOfRange(x, i, Math.min(x.length, i + batch)));
        }
        return h;
    }

    @Test
    void batchSizeAndOrderDoNotChangeCountsOrThresholds() {
        float[] x = data(20_000);
        for (Kernels k : KernelBackends.available()) {
            for (boolean signed : new boolean[] {false, true}) {
                Histogram ref = inBatches(new JavaKernels(), x, x.length, signed);
                for (int batch : new int[] {1, 7, 256}) {
                    float[] y = x.clone();
                    shuffle(y, SEED + batch);
                    Histogram h = inBatches(k, y, batch, signed);
                    String what = k.name() + " batch " + batch + " seed " + SEED;
                    assertEquals(ref.range(), h.range(), what);
                    assertArrayEquals(ref.counts(), h.counts(), what);
                    if (signed) {
                        assertArrayEquals(ref.negCounts(), h.negCounts(), what);
                    }
                    assertEquals(ref.stats(), h.stats(), what);
                    for (ThresholdMethod m : new ThresholdMethod[] {ThresholdMethod.minmax(), ThresholdMethod.entropy(),
                            ThresholdMethod.percentile(99.99), ThresholdMethod.mse()}) {
                        assertEquals(Thresholds.threshold(ref, m), Thresholds.threshold(h, m), what + " " + m);
                    }
                }
            }
        }
    }

    @Test
    void mergeOfTwoHalvesEqualsOnePass() {
        float[] x = data(30_000);
        Kernels k = KernelBackends.get();
        Histogram all = inBatches(k, x, 1000, true);
        // the second half has the larger values, so the merge must grow the first
        Arrays.sort(x);
        Histogram a = inBatches(k, Arrays.copyOfRange(x, 0, 10_000), 333, true);
        Histogram b = inBatches(k, Arrays.copyOfRange(x, 10_000, x.length), 77, true);
        Histogram merged = b.copy().merge(a);
        assertEquals(all.range(), merged.range());
        assertArrayEquals(all.counts(), merged.counts());
        assertArrayEquals(all.negCounts(), merged.negCounts());
        assertEquals(all.stats(), merged.stats());
        Histogram merged2 = a.merge(b);
        assertArrayEquals(all.counts(), merged2.counts());
    }

    @Test
    void rangeIsTheSmallestPowerOfTwoAboveTheMax() {
        Histogram h = Histogram.create(new JavaKernels(), 8, false);
        h.add(new float[] {0f, 0f});
        assertEquals(0f, h.range());
        h.add(new float[] {0.75f});
        assertEquals(1f, h.range());
        h.add(new float[] {-1f});
        assertEquals(2f, h.range());
        assertArrayEquals(new long[] {2, 0, 0, 1, 1, 0, 0, 0}, h.counts());
        assertEquals(4, h.total());
    }

    @Test
    void nanAndInfAreCountedNotBinned() {
        Histogram h = Histogram.create(new JavaKernels(), 4, false);
        h.add(new float[] {Float.NaN, Float.POSITIVE_INFINITY, 1f});
        assertEquals(1, h.total());
        assertEquals(1, h.stats().nanCount());
        assertEquals(1, h.stats().posInfCount());
        assertEquals(1, Arrays.stream(h.counts()).sum());
    }

    @Test
    void allNaNHasNoThreshold() {
        Histogram h = Histogram.create(new JavaKernels(), 4, false);
        h.add(new float[] {Float.NaN, Float.NaN});
        assertThrows(dev.kiln.KilnArgumentException.class, () -> Thresholds.threshold(h, ThresholdMethod.entropy()));
    }

    @Test
    void mergingDifferentBinsIsAnError() {
        assertThrows(dev.kiln.KilnArgumentException.class,
                () -> Histogram.absolute(16).merge(Histogram.absolute(32)));
        assertThrows(dev.kiln.KilnArgumentException.class, () -> Histogram.absolute(15));
    }
}
