package dev.kiln.kernels;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Fake quantization (and float16 conversion) against TensorFlow's own ops, bit for bit. */
class FakeQuantMatchesTensorFlowTest {
    private final JavaKernels java = new JavaKernels();

    private static float[] randomInput(SplittableRandom rnd, int n, float lo, float hi) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            // beyond the range on both sides, plus exact grid-ish values
            float span = hi - lo;
            x[i] = switch (rnd.nextInt(8)) {
                case 0 -> 0f;
                case 1 -> lo;
                case 2 -> hi;
                default -> (float) (lo - 0.25 * span + rnd.nextDouble() * 1.5 * span);
            };
        }
        return x;
    }

    private static float[] randomRange(SplittableRandom rnd) {
        float min;
        float max;
        switch (rnd.nextInt(6)) {
            case 0 -> {
                min = 0f;
                max = (float) rnd.nextDouble(0.01, 20);
            }
            case 1 -> {
                min = (float) rnd.nextDouble(-20, -0.01);
                max = 0f;
            }
            case 2 -> { // both positive: zero point clamps to quant_min
                min = (float) rnd.nextDouble(0.01, 5);
                max = min + (float) rnd.nextDouble(0.01, 5);
            }
            case 3 -> { // both negative
                max = (float) -rnd.nextDouble(0.01, 5);
                min = max - (float) rnd.nextDouble(0.01, 5);
            }
            default -> {
                min = (float) rnd.nextDouble(-10, 0);
                max = (float) rnd.nextDouble(0.001, 10);
            }
        }
        return new float[] {min, max};
    }

    private static void assertBitIdentical(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            int e = Float.floatToRawIntBits(expected[i]);
            int a = Float.floatToRawIntBits(actual[i]);
            boolean bothNaN = Float.isNaN(expected[i]) && Float.isNaN(actual[i]);
            if (e != a && !bothNaN) {
                fail(what + ": element " + i + " expected " + expected[i] + " (0x" + Integer.toHexString(e)
                        + ") but was " + actual[i] + " (0x" + Integer.toHexString(a) + ")");
            }
        }
    }

    @Test
    void perTensorFakeQuantIsBitIdenticalToTensorFlowForAllBitsAndNarrowRange() {
        long seed = System.nanoTime();
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int bits = 2; bits <= 16; bits++) {
            for (boolean narrow : new boolean[] {false, true}) {
                for (int trial = 0; trial < 4; trial++) {
                    float[] r = randomRange(rnd);
                    int n = 1 + rnd.nextInt(3000);
                    float[] x = randomInput(rnd, n, r[0], r[1]);
                    float[] expected = TfOracle.fakeQuant(x, r[0], r[1], bits, narrow);
                    float[] y = new float[n];
                    java.fakeQuant(x, AxisView.perTensor(n), new float[] {r[0]}, new float[] {r[1]}, bits, narrow, y);
                    assertBitIdentical(expected, y, "seed " + seed + " bits " + bits + " narrow " + narrow
                            + " min " + r[0] + " max " + r[1]);
                }
            }
        }
    }

    @Test
    void perChannelFakeQuantIsBitIdenticalToTensorFlowForAllBitsAndNarrowRange() {
        long seed = System.nanoTime();
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int bits = 2; bits <= 16; bits++) {
            for (boolean narrow : new boolean[] {false, true}) {
                int d = 2 + rnd.nextInt(17);
                int b = 1 + rnd.nextInt(200);
                float[] min = new float[d];
                float[] max = new float[d];
                for (int c = 0; c < d; c++) {
                    float[] r = randomRange(rnd);
                    min[c] = r[0];
                    max[c] = r[1];
                }
                float[] x = randomInput(rnd, b * d, -12f, 12f);
                float[] expected = TfOracle.fakeQuantPerChannel(x, min, max, bits, narrow);
                float[] y = new float[x.length];
                java.fakeQuant(x, new AxisView(b, d, 1), min, max, bits, narrow, y);
                assertBitIdentical(expected, y, "seed " + seed + " bits " + bits + " narrow " + narrow);
            }
        }
    }

    @Test
    void zeroRangeGivesZerosLikeTensorFlow() {
        float[] x = {-3f, 0f, 2.5f, 100f};
        float[] y = new float[4];
        java.fakeQuant(x, AxisView.perTensor(4), new float[] {0f}, new float[] {0f}, 8, false, y);
        assertBitIdentical(TfOracle.fakeQuant(x, 0f, 0f, 8, false), y, "min = max = 0");
    }

    @Test
    void nonFiniteInputsBehaveLikeTensorFlow() {
        float[] x = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 1f, Float.NaN, 3f, -2f, Float.NaN};
        float[] y = new float[x.length];
        java.fakeQuant(x, AxisView.perTensor(x.length), new float[] {-1f}, new float[] {2f}, 8, false, y);
        assertBitIdentical(TfOracle.fakeQuant(x, -1f, 2f, 8, false), y, "non-finite");
    }

    @Test
    void halfConversionMatchesTensorFlowCast() {
        long seed = System.nanoTime();
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = 200_000;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = switch (rnd.nextInt(4)) {
                case 0 -> Float.intBitsToFloat(rnd.nextInt()); // every bit pattern, NaN included
                case 1 -> (float) rnd.nextDouble(-70000, 70000);
                case 2 -> (float) (rnd.nextDouble(-1, 1) * 1e-4); // half subnormals
                default -> Float.intBitsToFloat((rnd.nextInt(0x38000000, 0x47800000) & ~0xFFF) | 0x1000
                        | (rnd.nextBoolean() ? 0x80000000 : 0)); // exact ties
            };
        }
        short[] expected = TfOracle.toHalf(x);
        short[] actual = java.toHalf(x);
        for (int i = 0; i < n; i++) {
            if (Float.isNaN(x[i])) {
                assertEquals(0x7C00, expected[i] & 0x7C00, "TF NaN");
                assertEquals(true, (actual[i] & 0x7FFF) > 0x7C00, "NaN stays NaN at " + i);
                continue;
            }
            assertEquals(expected[i], actual[i], "seed " + seed + " x = " + x[i] + " (0x"
                    + Integer.toHexString(Float.floatToRawIntBits(x[i])) + ")");
        }
    }
}
