package dev.kiln.kernels;

import dev.kiln.KilnArgumentException;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The tuned loops of JavaKernels (sub-histograms, branch-free clamps, flat per-channel parameters, the 2:4 table,
 * the range-stats fast path) against the formulas of kiln.h written out plainly here, bit for bit, on random data
 * with NaN, +-Inf, +-0 and exact ties. This holds where no native backend exists to compare with.
 */
class JavaKernelsFastPathTest {
    private final Kernels k = new JavaKernels();
    private final long seed = System.nanoTime();

    private static float[] data(SplittableRandom rnd, int n, boolean specials) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            int kind = rnd.nextInt(20);
            x[i] = !specials || kind > 3 ? (float) (rnd.nextGaussian() * 3) : switch (kind) {
                case 0 -> Float.NaN;
                case 1 -> rnd.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
                case 2 -> rnd.nextBoolean() ? 0f : -0f;
                default -> (float) rnd.nextInt(-4, 5) * 0.5f;
            };
        }
        return x;
    }

    private static void assertBits(float[] e, float[] a, String what) {
        assertEquals(e.length, a.length, what);
        for (int i = 0; i < e.length; i++) {
            if (Float.floatToRawIntBits(e[i]) != Float.floatToRawIntBits(a[i]) && !(e[i] != e[i] && a[i] != a[i])) {
                fail(what + ": element " + i + " expected " + e[i] + " but was " + a[i]);
            }
        }
    }

    @Test
    void histogramsEqualThePlainFormula() {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int n : new int[] {5, 4 * 16 - 1, 4 * 16, 4 * 16 + 3, 10_007, 200_001}) {
            for (boolean signed : new boolean[] {false, true}) {
                for (int bins : new int[] {2, 16, 2048}) {
                    float inv = Math.scalb(1f, -rnd.nextInt(-2, 5));
                    float[] x = data(rnd, n, rnd.nextBoolean());
                    long[] ec = new long[bins];
                    long[] en = new long[bins];
                    for (float v : x) {
                        if (!(Math.abs(v) <= Float.MAX_VALUE)) {
                            continue;
                        }
                        float t = (Math.abs(v) * inv) * (float) bins;
                        int bin = t >= (float) bins ? bins - 1 : (int) t;
                        if (signed && v < 0f) {
                            en[bin]++;
                        } else {
                            ec[bin]++;
                        }
                    }
                    long[] ac = new long[bins];
                    long[] an = new long[bins];
                    ac[0] = 5; // counts are added to
                    ec[0] += 5;
                    k.histogram(x, inv, bins, signed, ac, an);
                    assertArrayEquals(ec, ac, "seed " + seed + " n " + n + " bins " + bins + " signed " + signed);
                    if (signed) {
                        assertArrayEquals(en, an, "negCounts, seed " + seed);
                    }
                }
            }
        }
    }

    @Test
    void rangeStatsWithAndWithoutNonFiniteValues() {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int n : new int[] {1, 2, 3, 1000, 100_001}) {
            for (boolean specials : new boolean[] {false, true}) {
                float[] x = data(rnd, n, specials);
                float min = Float.POSITIVE_INFINITY;
                float max = Float.NEGATIVE_INFINITY;
                long finite = 0;
                for (float v : x) {
                    if (Float.isFinite(v)) {
                        min = Math.min(min, v);
                        max = Math.max(max, v);
                        finite++;
                    }
                }
                RangeStats s = k.rangeStats(x);
                assertEquals(finite, s.count(), "seed " + seed);
                assertEquals(Float.floatToRawIntBits(min), Float.floatToRawIntBits(s.min()), "min, seed " + seed);
                assertEquals(Float.floatToRawIntBits(max), Float.floatToRawIntBits(s.max()), "max, seed " + seed);
                assertEquals(finite == 0 ? 0f : Math.max(Math.abs(min), Math.abs(max)), s.absMax());
                assertEquals(n - finite, s.nanCount() + s.posInfCount() + s.negInfCount());
            }
        }
        assertEquals(new RangeStats(-0f, 0f, 0f, 2, 0, 0, 0), k.rangeStats(new float[] {0f, -0f}));
    }

    private static float plainFakeQuant(float x, float[] p, boolean divide) {
        float v = x > p[1] ? p[1] : x;
        v = v < p[0] ? p[0] : v;
        float t = divide ? (v - p[0]) / p[2] : (v - p[0]) * p[3];
        return (float) Math.floor((t - p[4]) + 0.5f) * p[2];
    }

    @Test
    void fakeQuantEqualsThePlainFormulaOnEveryLayoutAndInPlace() {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[][] shapes = {{1, 1, 1000}, {50, 7, 1}, {300, 64, 1}, {3, 5, 17}, {1, 4, 9}};
        for (int[] s : shapes) {
            for (int trial = 0; trial < 4; trial++) {
                AxisView view = new AxisView(s[0], s[1], s[2]);
                int n = s[0] * s[1] * s[2];
                int ch = s[1];
                float[] min = new float[ch];
                float[] max = new float[ch];
                for (int c = 0; c < ch; c++) {
                    min[c] = rnd.nextInt(6) == 0 ? 0f : (float) rnd.nextDouble(-6, 1);
                    max[c] = rnd.nextInt(6) == 0 ? Math.max(min[c], 0f) : min[c] + (float) rnd.nextDouble(0, 8);
                    if (rnd.nextInt(4) == 0) {
                        min[c] = 0f;
                        max[c] = 0f;
                    }
                }
                int bits = 2 + rnd.nextInt(15);
                boolean narrow = rnd.nextBoolean();
                float[] x = data(rnd, n, true);
                float[] e = new float[n];
                for (int o = 0, idx = 0; o < s[0]; o++) {
                    for (int c = 0; c < ch; c++) {
                        float[] p = JavaKernels.nudge(min[c], max[c], bits, narrow);
                        for (int i = 0; i < s[2]; i++, idx++) {
                            e[idx] = p == null ? 0f : plainFakeQuant(x[idx], p, ch == 1);
                        }
                    }
                }
                float[] a = new float[n];
                k.fakeQuant(x, view, min, max, bits, narrow, a);
                assertBits(e, a, "seed " + seed + " view " + view + " bits " + bits);
                float[] inPlace = x.clone();
                k.fakeQuant(inPlace, view, min, max, bits, narrow, inPlace);
                assertBits(e, inPlace, "in place, seed " + seed + " view " + view);
            }
        }
    }

    @Test
    void fastFloorEqualsFloorfForEverySumWithHalf() {
        // floorOfSum(fl(w + 0.5f)) == floorf(fl(w + 0.5f)) for |w| <= 2^21: a strided sweep over all bit patterns
        // here (the full sweep of 2.5e9 values passed once, offline), plus every value near integers and halves
        int limit = Float.floatToRawIntBits(JavaKernels.FLOOR_FAST_LIMIT);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int sign = 0; sign < 2; sign++) {
            for (int bits = rnd.nextInt(61); bits <= limit; bits += 61) {
                checkFloor(Float.intBitsToFloat(bits | sign << 31));
            }
        }
        for (int i = -70_000; i <= 70_000; i++) {
            for (float base : new float[] {i, i + 0.5f, i * 0x1p-10f}) {
                float lo = base;
                float hi = base;
                for (int u = 0; u < 4; u++) {
                    checkFloor(lo);
                    checkFloor(hi);
                    lo = Math.nextDown(lo);
                    hi = Math.nextUp(hi);
                }
            }
        }
        assertEquals(true, Float.isNaN(JavaKernels.floorOfSum(Float.NaN)));
    }

    private static void checkFloor(float w) {
        float u = w + 0.5f;
        float e = (float) Math.floor(u);
        float a = JavaKernels.floorOfSum(u);
        if (Float.floatToRawIntBits(e) != Float.floatToRawIntBits(a)) {
            fail("w " + w + " u " + u + ": floorf " + e + " fast " + a);
        }
    }

    @Test
    void fakeQuantWithHugeOrTinyRangesTakesTheExactPath() {
        // ranges whose (max - min) overflows or underflows: the fast floor does not apply, results still follow kiln.h
        float[][] ranges = {{-3e38f, 3e38f}, {-1e-40f, 1e-40f}, {0f, 1e-45f}, {-65504f, 65504f}, {1e30f, 2e30f}};
        SplittableRandom rnd = new SplittableRandom(seed);
        for (float[] r : ranges) {
            for (int bits : new int[] {2, 8, 16}) {
                float[] x = data(rnd, 257, true);
                for (int i = 0; i < x.length; i += 3) {
                    x[i] = r[0] + (r[1] - r[0]) * (float) rnd.nextDouble();
                }
                float[] p = JavaKernels.nudge(r[0], r[1], bits, false);
                float[] e = new float[x.length];
                for (int i = 0; i < x.length; i++) {
                    e[i] = plainFakeQuant(x[i], p, true);
                }
                float[] a = new float[x.length];
                k.fakeQuant(x, AxisView.perTensor(x.length), new float[] {r[0]}, new float[] {r[1]}, bits, false, a);
                assertBits(e, a, "per tensor " + r[0] + ".." + r[1] + " bits " + bits);
                float[] e2 = new float[x.length * 2];
                float[] x2 = new float[x.length * 2];
                for (int i = 0; i < x.length; i++) {
                    x2[2 * i] = x[i];
                    x2[2 * i + 1] = x[i];
                    e2[2 * i] = plainFakeQuant(x[i], p, false);
                    e2[2 * i + 1] = e2[2 * i];
                }
                float[] a2 = new float[x2.length];
                k.fakeQuant(x2, new AxisView(x.length, 2, 1), new float[] {r[0], r[0]}, new float[] {r[1], r[1]},
                        bits, false, a2);
                assertBits(e2, a2, "per channel " + r[0] + ".." + r[1] + " bits " + bits);
            }
        }
    }

    @Test
    void pack24EqualsThePlainRuleAndRejectsThreeNonZeros() {
        SplittableRandom rnd = new SplittableRandom(seed);
        // 2052 and 3004: more than one 1024-column chunk per row, and a last group alone in its meta byte
        float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE,
            -Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE};
        for (int cols : new int[] {4, 8, 12, 1024, 2052, 3004}) {
            int rows = 1 + rnd.nextInt(5);
            float[] w = new float[rows * cols];
            for (int g = 0; g < w.length / 4; g++) {
                int keep = rnd.nextInt(3); // 0, 1 or 2 non-zeros, at random positions
                for (int j = 0; j < keep; j++) {
                    w[4 * g + rnd.nextInt(4)] = rnd.nextInt(16) == 0 ? special[rnd.nextInt(special.length)]
                            : (float) rnd.nextGaussian();
                }
                if (rnd.nextInt(8) == 0) {
                    w[4 * g + rnd.nextInt(4)] = -0f;
                }
            }
            Packed24 p = k.pack24(w, rows, cols);
            int metaRow = (int) Packed24.metaRowBytes(cols);
            for (int r = 0; r < rows; r++) {
                for (int g = 0; g < cols / 4; g++) {
                    int b = r * cols + 4 * g;
                    int sel = 0;
                    for (int q = 0; q < 4; q++) {
                        sel |= w[b + q] != 0f ? 1 << q : 0;
                    }
                    for (int q = 0; q < 4 && Integer.bitCount(sel) < 2; q++) {
                        sel |= 1 << q;
                    }
                    int p0 = Integer.numberOfTrailingZeros(sel);
                    int p1 = 31 - Integer.numberOfLeadingZeros(sel);
                    int nibble = ((p.meta()[r * metaRow + g / 2] & 0xFF) >>> (4 * (g % 2))) & 0xF;
                    assertEquals(p0 | p1 << 2, nibble, "row " + r + " group " + g);
                    assertEquals(Float.floatToRawIntBits(w[b + p0]),
                            Float.floatToRawIntBits(p.values()[r * cols / 2 + 2 * g]));
                    assertEquals(Float.floatToRawIntBits(w[b + p1]),
                            Float.floatToRawIntBits(p.values()[r * cols / 2 + 2 * g + 1]));
                }
                if (cols % 8 == 4) {
                    assertEquals(0, p.meta()[r * metaRow + metaRow - 1] & 0xF0, "unused high nibble");
                }
            }
            float[] back = k.unpack24(p);
            for (int i = 0; i < w.length; i++) {
                // a -0.0f that was not kept comes back as +0.0f; a NaN comes back with its bits
                assertEquals(true, w[i] == back[i] || Float.floatToRawIntBits(w[i]) == Float.floatToRawIntBits(back[i]),
                        "unpack " + i);
            }
        }
        float[] bad = {1f, 2f, 0f, 0f, 1f, 0f, 3f, 4f};
        KilnArgumentException ex = assertThrows(KilnArgumentException.class, () -> k.pack24(bad, 1, 8));
        assertEquals(true, ex.getMessage().contains("group 1"), ex.getMessage());
        float[] badNaN = new float[2 * 1032]; // row 1, group 257 (flat index 2060): NaN counts as a non-zero
        badNaN[2060] = 1f;
        badNaN[2061] = Float.NaN;
        badNaN[2063] = 2f;
        ex = assertThrows(KilnArgumentException.class, () -> k.pack24(badNaN, 2, 1032));
        assertEquals(true, ex.getMessage().contains("row 1, group 257 (flat index 2060)"), ex.getMessage());
        float[] badTail = new float[12]; // the lone last group of a row with cols % 8 == 4
        badTail[8] = badTail[9] = badTail[11] = -Float.MIN_VALUE;
        ex = assertThrows(KilnArgumentException.class, () -> k.pack24(badTail, 1, 12));
        assertEquals(true, ex.getMessage().contains("group 2 (flat index 8)"), ex.getMessage());
    }
}
