package dev.kiln.kernels;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every kernel on every available backend (cpu and cuda when present) against the Java reference, on fresh random
 * data (the seed is in the test name): identical integers, bit-identical floats (any NaN equals any NaN).
 */
class KernelParityTest {
    private static final Kernels REF = new JavaKernels();
    private static final long SEED = System.nanoTime();

    private static void assertBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])
                    && !(Float.isNaN(expected[i]) && Float.isNaN(actual[i]))) {
                fail(what + ": element " + i + " expected " + expected[i] + " but was " + actual[i]);
            }
        }
    }

    private static float[] data(SplittableRandom rnd, int n, boolean withSpecials) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            int kind = rnd.nextInt(20);
            x[i] = !withSpecials || kind > 3 ? (float) (rnd.nextGaussian() * 3) : switch (kind) {
                case 0 -> Float.NaN;
                case 1 -> rnd.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
                case 2 -> rnd.nextBoolean() ? 0f : -0f;
                default -> (float) rnd.nextInt(-4, 5) * 0.5f; // exact ties
            };
        }
        return x;
    }

    private static long[] shape(SplittableRandom rnd, int rank) {
        long[] s = new long[rank];
        for (int d = 0; d < rank; d++) {
            s[d] = 1 + rnd.nextInt(9);
        }
        return s;
    }

    private static int size(long[] s) {
        return (int) Arrays.stream(s).reduce(1, Math::multiplyExact);
    }

    @TestFactory
    List<DynamicTest> everyBackendMatchesTheJavaReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Kernels k : KernelBackends.available()) {
            if (k.name().equals("java")) {
                continue;
            }
            String p = k.name() + " (seed " + SEED + "): ";
            SplittableRandom rnd = new SplittableRandom(SEED);
            tests.add(DynamicTest.dynamicTest(p + "rangeStats", () -> {
                for (int n : new int[] {0, 1, 7, 33, 1000, 65537}) {
                    float[] x = data(rnd, n, true);
                    RangeStats e = REF.rangeStats(x);
                    RangeStats a = k.rangeStats(x);
                    assertEquals(e.count(), a.count());
                    assertEquals(e.nanCount(), a.nanCount());
                    assertEquals(e.posInfCount(), a.posInfCount());
                    assertEquals(e.negInfCount(), a.negInfCount());
                    assertEquals(Float.floatToRawIntBits(e.absMax()), Float.floatToRawIntBits(a.absMax()));
                    assertEquals(true, e.min() == a.min() && e.max() == a.max(), e + " vs " + a);
                }
            }));
            tests.add(DynamicTest.dynamicTest(p + "histogram", () -> {
                for (int n : new int[] {1, 15, 1001, 100_003}) {
                    for (boolean signed : new boolean[] {false, true}) {
                        int bins = 2 * (1 + rnd.nextInt(1200));
                        float inv = Math.scalb(1f, -rnd.nextInt(-3, 6));
                        float[] x = data(rnd, n, true);
                        long[] ec = new long[bins];
                        long[] en = new long[bins];
                        long[] ac = new long[bins];
                        long[] an = new long[bins];
                        REF.histogram(x, inv, bins, signed, ec, en);
                        k.histogram(x, inv, bins, signed, ac, an);
                        assertArrayEquals(ec, ac, "counts n " + n + " bins " + bins);
                        assertArrayEquals(en, an, "negCounts");
                    }
                }
            }));
            tests.add(DynamicTest.dynamicTest(p + "channelAbsMax, quantize, dequantize, fakeQuant on several axes", () -> {
                for (int trial = 0; trial < 12; trial++) {
                    long[] s = shape(rnd, 1 + rnd.nextInt(4));
                    int axis = rnd.nextInt(s.length);
                    AxisView v = rnd.nextInt(4) == 0 ? AxisView.perTensor(size(s)) : AxisView.of(s, axis);
                    int ch = (int) v.channels();
                    float[] x = data(rnd, size(s), true);
                    assertBits(REF.channelAbsMax(x, v), k.channelAbsMax(x, v), "channelAbsMax");
                    float[] scale = new float[ch];
                    int[] zp = new int[ch];
                    float[] min = new float[ch];
                    float[] max = new float[ch];
                    for (int c = 0; c < ch; c++) {
                        scale[c] = (float) rnd.nextDouble(0.001, 2);
                        zp[c] = rnd.nextInt(-20, 21);
                        min[c] = (float) rnd.nextDouble(-6, 1);
                        max[c] = min[c] + (float) rnd.nextDouble(0, 8);
                    }
                    if (rnd.nextInt(5) == 0) {
                        min[0] = 0f;
                        max[0] = 0f;
                    }
                    int bits = 2 + rnd.nextInt(15);
                    int qmin = -(1 << (bits - 1));
                    int qmax = (1 << (bits - 1)) - 1;
                    int[] q = REF.quantize(x, v, scale, zp, qmin, qmax);
                    assertArrayEquals(q, k.quantize(x, v, scale, zp, qmin, qmax), "quantize");
                    assertBits(REF.dequantize(q, v, scale, zp), k.dequantize(q, v, scale, zp), "dequantize");
                    boolean narrow = rnd.nextBoolean();
                    float[] ey = new float[x.length];
                    float[] ay = new float[x.length];
                    REF.fakeQuant(x, v, min, max, bits, narrow, ey);
                    k.fakeQuant(x, v, min, max, bits, narrow, ay);
                    assertBits(ey, ay, "fakeQuant " + v + " bits " + bits);
                }
            }));
            tests.add(DynamicTest.dynamicTest(p + "dequantize with extreme q and zero points (exact 64-bit difference)",
                    () -> {
                int[] edge = {Integer.MIN_VALUE, Integer.MIN_VALUE + 1, -65536, -1, 0, 1, 65535,
                        Integer.MAX_VALUE - 1, Integer.MAX_VALUE};
                int n = edge.length * edge.length;
                int[] q = new int[n];
                int[] zp = new int[n];
                float[] scale = new float[n];
                for (int a = 0; a < edge.length; a++) {
                    for (int b = 0; b < edge.length; b++) {
                        q[a * edge.length + b] = edge[a];
                        zp[a * edge.length + b] = edge[b];
                        scale[a * edge.length + b] = (float) rnd.nextDouble(0.001, 2);
                    }
                }
                AxisView v = new AxisView(1, n, 1);
                assertBits(REF.dequantize(q, v, scale, zp), k.dequantize(q, v, scale, zp), "dequantize edges");
                for (int c = 0; c < n; c++) {
                    float expected = (float) ((long) q[c] - zp[c]) * scale[c];
                    float actual = k.dequantize(new int[] {q[c]}, AxisView.perTensor(1), new float[] {scale[c]},
                            new int[] {zp[c]})[0];
                    assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                            "q " + q[c] + " zp " + zp[c]);
                }
            }));
            tests.add(DynamicTest.dynamicTest(p + "float16 both ways", () -> {
                float[] x = new float[100_001];
                for (int i = 0; i < x.length; i++) {
                    x[i] = i % 3 == 0 ? Float.intBitsToFloat(rnd.nextInt()) : (float) (rnd.nextGaussian() * 1e3);
                }
                short[] h = REF.toHalf(x);
                assertArrayEquals(h, k.toHalf(x), "toHalf");
                short[] all = new short[65536];
                for (int i = 0; i < all.length; i++) {
                    all[i] = (short) i;
                }
                assertBits(REF.fromHalf(all), k.fromHalf(all), "fromHalf");
            }));
            tests.add(DynamicTest.dynamicTest(p + "masks and N:M check", () -> {
                for (int trial = 0; trial < 8; trial++) {
                    int n = 1 + rnd.nextInt(5000);
                    float[] w = data(rnd, n, false);
                    for (int i = 0; i < n / 10; i++) {
                        w[rnd.nextInt(n)] = w[rnd.nextInt(n)]; // ties
                    }
                    long keep = rnd.nextLong(n + 1);
                    assertArrayEquals(REF.maskMagnitude(w, keep), k.maskMagnitude(w, keep), "maskMagnitude");
                    int m = new int[] {4, 8, 2, 16}[rnd.nextInt(4)];
                    int nn = 1 + rnd.nextInt(m);
                    long[] s = {1 + rnd.nextInt(5), m * (1 + rnd.nextInt(6)), 1 + rnd.nextInt(5)};
                    AxisView v = AxisView.of(s, 1);
                    float[] w2 = data(rnd, size(s), false);
                    assertArrayEquals(REF.maskNM(w2, v, nn, m), k.maskNM(w2, v, nn, m), "maskNM");
                    for (int i = 0; i < w2.length; i++) {
                        if (rnd.nextInt(3) == 0) {
                            w2[i] = 0f;
                        }
                    }
                    assertEquals(REF.checkNM(w2, v, nn, m, 7), k.checkNM(w2, v, nn, m, 7), "checkNM");
                    int br = 1 + rnd.nextInt(4);
                    int bc = 1 + rnd.nextInt(4);
                    int rows = br * (1 + rnd.nextInt(8));
                    int cols = bc * (1 + rnd.nextInt(8));
                    float[] w3 = data(rnd, rows * cols, false);
                    long nbKeep = rnd.nextLong((long) (rows / br) * (cols / bc) + 1);
                    assertArrayEquals(REF.maskBlock(w3, rows, cols, br, bc, nbKeep),
                            k.maskBlock(w3, rows, cols, br, bc, nbKeep), "maskBlock");
                }
            }));
            tests.add(DynamicTest.dynamicTest(p + "CSR, BSR and 2:4 packing", () -> {
                for (int trial = 0; trial < 8; trial++) {
                    int br = 1 + rnd.nextInt(4);
                    int bc = 1 + rnd.nextInt(4);
                    int rows = br * (1 + rnd.nextInt(9));
                    int cols = 4 * bc * (1 + rnd.nextInt(9));
                    float[] w = data(rnd, rows * cols, false);
                    for (int i = 0; i < w.length; i++) {
                        if (rnd.nextInt(4) != 0) {
                            w[i] = rnd.nextBoolean() ? 0f : -0f;
                        }
                    }
                    CsrMatrix ec = REF.packCsr(w, rows, cols);
                    CsrMatrix ac = k.packCsr(w, rows, cols);
                    assertArrayEquals(ec.rowPtr(), ac.rowPtr());
                    assertArrayEquals(ec.colIdx(), ac.colIdx());
                    assertBits(ec.values(), ac.values(), "csr values");
                    assertBits(REF.unpackCsr(ec), k.unpackCsr(ec), "csr unpack");
                    BsrMatrix eb = REF.packBsr(w, rows, cols, br, bc);
                    BsrMatrix ab = k.packBsr(w, rows, cols, br, bc);
                    assertArrayEquals(eb.blockRowPtr(), ab.blockRowPtr());
                    assertArrayEquals(eb.blockCol(), ab.blockCol());
                    assertBits(eb.values(), ab.values(), "bsr values");
                    assertBits(REF.unpackBsr(eb), k.unpackBsr(eb), "bsr unpack");
                    float[] w24 = data(rnd, rows * cols, false);
                    byte[] mask = REF.maskNM(w24, AxisView.of(new long[] {rows, cols}, 1), 2, 4);
                    for (int i = 0; i < w24.length; i++) {
                        if (mask[i] == 0 || rnd.nextInt(6) == 0) {
                            w24[i] = 0f;
                        }
                    }
                    Packed24 e24 = REF.pack24(w24, rows, cols);
                    Packed24 a24 = k.pack24(w24, rows, cols);
                    assertBits(e24.values(), a24.values(), "2:4 values");
                    assertArrayEquals(e24.meta(), a24.meta(), "2:4 meta");
                    assertBits(REF.unpack24(e24), k.unpack24(e24), "2:4 unpack");
                }
            }));
        }
        if (tests.isEmpty()) {
            tests.add(DynamicTest.dynamicTest("only the java backend is available here: nothing to compare", () -> { }));
        }
        return tests;
    }
}
