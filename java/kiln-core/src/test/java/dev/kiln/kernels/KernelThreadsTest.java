package dev.kiln.kernels;

import dev.kiln.KilnArgumentException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The threaded kernels (histogram, range statistics, fake quantization) give the same result for 1, 2 and 3 threads
 * on every available backend, bit for bit, on large random arrays with NaN, +-Inf and signed zeros whose sizes are
 * not multiples of the chunk size; and the same as the Java reference on one thread.
 */
class KernelThreadsTest {
    private static final long SEED = System.nanoTime();
    private static final int[] THREADS = {1, 2, 3};
    /** Just above the threshold, and many chunks with a partial last one. */
    private static final int[] SIZES = {Parallel.THRESHOLD + 1, 11 * Parallel.CHUNK - 3};

    @AfterEach
    void resetThreads() {
        KernelBackends.setThreads(0);
    }

    private static float[] data(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            int kind = rnd.nextInt(1000);
            x[i] = switch (kind) {
                case 0 -> Float.NaN;
                case 1 -> Float.POSITIVE_INFINITY;
                case 2 -> Float.NEGATIVE_INFINITY;
                case 3 -> -0f;
                case 4 -> 0f;
                case 5 -> 1e30f;
                default -> (float) (rnd.nextGaussian() * 3);
            };
        }
        return x;
    }

    /** Raw bits of every field, so that -0.0f and +0.0f differ. */
    private static List<Long> bits(RangeStats s) {
        return List.of((long) Float.floatToRawIntBits(s.min()), (long) Float.floatToRawIntBits(s.max()),
                (long) Float.floatToRawIntBits(s.absMax()), s.count(), s.nanCount(), s.posInfCount(), s.negInfCount());
    }

    private static int[] bits(float[] y) {
        int[] out = new int[y.length];
        for (int i = 0; i < y.length; i++) {
            out[i] = Float.floatToRawIntBits(y[i]);
        }
        return out;
    }

    /** The value of {@code run} under each thread count of THREADS. */
    private static <T> List<T> underEachThreadCount(Supplier<T> run) {
        List<T> out = new ArrayList<>();
        for (int t : THREADS) {
            KernelBackends.setThreads(t);
            out.add(run.get());
        }
        return out;
    }

    @TestFactory
    List<DynamicTest> everyBackendGivesTheSameResultForEveryThreadCount() {
        Kernels ref = new JavaKernels();
        List<DynamicTest> tests = new ArrayList<>();
        for (Kernels k : KernelBackends.available()) {
            String p = k.name() + " (seed " + SEED + "): ";
            tests.add(DynamicTest.dynamicTest(p + "rangeStats", () -> {
                SplittableRandom rnd = new SplittableRandom(SEED);
                for (int n : SIZES) {
                    float[] x = data(rnd, n);
                    KernelBackends.setThreads(1);
                    List<Long> expected = bits(ref.rangeStats(x));
                    List<List<Long>> got = underEachThreadCount(() -> bits(k.rangeStats(x)));
                    for (int i = 0; i < THREADS.length; i++) {
                        assertEquals(expected, got.get(i), "n " + n + ", threads " + THREADS[i]);
                    }
                }
            }));
            tests.add(DynamicTest.dynamicTest(p + "histogram", () -> {
                SplittableRandom rnd = new SplittableRandom(SEED + 1);
                for (int n : SIZES) {
                    float[] x = data(rnd, n);
                    for (int bins : new int[] {2048, 8, 1 << 18}) {
                        for (boolean signed : new boolean[] {false, true}) {
                            Supplier<long[]> run = () -> {
                                long[] c = new long[bins];
                                long[] neg = new long[bins];
                                c[0] = 5; // counts are added to
                                k.histogram(x, 0.125f, bins, signed, c, signed ? neg : null);
                                long[] both = new long[2 * bins];
                                System.arraycopy(c, 0, both, 0, bins);
                                System.arraycopy(neg, 0, both, bins, bins);
                                return both;
                            };
                            KernelBackends.setThreads(1);
                            long[] expected = new long[2 * bins];
                            long[] neg = new long[bins];
                            expected[0] = 5;
                            long[] c = new long[bins];
                            c[0] = 5;
                            ref.histogram(x, 0.125f, bins, signed, c, signed ? neg : null);
                            System.arraycopy(c, 0, expected, 0, bins);
                            System.arraycopy(neg, 0, expected, bins, bins);
                            List<long[]> got = underEachThreadCount(run);
                            for (int i = 0; i < THREADS.length; i++) {
                                assertArrayEquals(expected, got.get(i), "n " + n + ", bins " + bins + ", signed "
                                        + signed + ", threads " + THREADS[i]);
                            }
                        }
                    }
                }
            }));
            tests.add(DynamicTest.dynamicTest(p + "fakeQuant", () -> {
                SplittableRandom rnd = new SplittableRandom(SEED + 2);
                int big = 11 * Parallel.CHUNK - 3;
                // per tensor; last axis with 3, 64 and 5000 channels; another axis with runs crossing chunk ends
                AxisView[] views = {AxisView.perTensor(big), new AxisView(big / 3, 3, 1), new AxisView(big / 64, 64, 1),
                    new AxisView(big / 5000, 5000, 1), new AxisView(3, 5, 250_001), new AxisView(2, 7, Parallel.CHUNK + 1)};
                for (AxisView view : views) {
                    int n = (int) (view.outer() * view.channels() * view.inner());
                    float[] x = data(rnd, n);
                    int ch = (int) view.channels();
                    float[] min = new float[ch];
                    float[] max = new float[ch];
                    for (int c = 0; c < ch; c++) {
                        min[c] = -1f - 0.1f * (c % 7);
                        max[c] = 0.5f + 0.3f * (c % 5);
                    }
                    if (ch > 1) {
                        min[1] = 0f; // TensorFlow's special case: the channel is 0
                        max[1] = 0f;
                    }
                    KernelBackends.setThreads(1);
                    float[] e = new float[n];
                    ref.fakeQuant(x, view, min, max, 8, false, e);
                    int[] expected = bits(e);
                    List<int[]> got = underEachThreadCount(() -> {
                        float[] y = new float[n];
                        k.fakeQuant(x, view, min, max, 8, false, y);
                        return bits(y);
                    });
                    for (int i = 0; i < THREADS.length; i++) {
                        assertArrayEquals(expected, got.get(i), "view " + view + ", threads " + THREADS[i]);
                    }
                }
            }));
        }
        return tests;
    }

    @Test
    void threadCountComesFromTheSettingThePropertyOrTheProcessors() {
        String saved = System.getProperty(KernelBackends.THREADS_PROPERTY);
        try {
            System.clearProperty(KernelBackends.THREADS_PROPERTY);
            if (System.getenv(KernelBackends.THREADS_ENV) == null) {
                assertEquals(Runtime.getRuntime().availableProcessors(), KernelBackends.threads());
                assertEquals("available processors", KernelBackends.threadsSource());
            }
            System.setProperty(KernelBackends.THREADS_PROPERTY, "3");
            assertEquals(3, KernelBackends.threads());
            assertEquals("-Dkiln.threads", KernelBackends.threadsSource());
            KernelBackends.setThreads(2);
            assertEquals(2, KernelBackends.threads());
            KernelBackends.setThreads(0);
            assertEquals(3, KernelBackends.threads());
            System.setProperty(KernelBackends.THREADS_PROPERTY, "zero");
            KilnArgumentException e = assertThrows(KilnArgumentException.class, KernelBackends::threads);
            assertTrue(e.getMessage().contains("-Dkiln.threads"), e.getMessage());
            assertTrue(KernelBackends.report().contains("threads: invalid"), KernelBackends.report());
            System.setProperty(KernelBackends.THREADS_PROPERTY, "0");
            assertThrows(KilnArgumentException.class, KernelBackends::threads);
            assertThrows(KilnArgumentException.class, () -> KernelBackends.setThreads(-1));
            assertThrows(KilnArgumentException.class, () -> KernelBackends.setThreads(KernelBackends.MAX_THREADS + 1));
        } finally {
            if (saved == null) {
                System.clearProperty(KernelBackends.THREADS_PROPERTY);
            } else {
                System.setProperty(KernelBackends.THREADS_PROPERTY, saved);
            }
        }
    }

    @Test
    void reportShowsTheThreadCount() {
        KernelBackends.setThreads(2);
        assertTrue(KernelBackends.report().contains("threads: 2 (KernelBackends.setThreads"), KernelBackends.report());
    }

    @Test
    void cpuBackendHandsTheCountToTheLibrary() {
        if (!KernelBackends.availableNames().contains("cpu")) {
            return; // no native library here (-Dnative.skip)
        }
        CpuKernels cpu = (CpuKernels) KernelBackends.get("cpu");
        float[] x = new float[Parallel.THRESHOLD];
        for (int t : new int[] {3, 1}) {
            KernelBackends.setThreads(t);
            cpu.rangeStats(x);
            assertEquals(t, cpu.nativeThreads());
        }
    }
}
