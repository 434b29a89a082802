package dev.kiln.kernels;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every kernel of the Java reference against hand-checked values. */
class JavaKernelsTest {
    private final Kernels k = new JavaKernels();

    @Test
    void rangeStatsExcludeAndCountNonFiniteValues() {
        RangeStats s = k.rangeStats(new float[] {1f, -3f, Float.NaN, Float.POSITIVE_INFINITY, 2f,
                Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY});
        assertEquals(new RangeStats(-3f, 2f, 3f, 3, 1, 1, 2), s);
        assertEquals(RangeStats.EMPTY, k.rangeStats(new float[0]));
        assertEquals(new RangeStats(Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, 0, 2, 0, 0),
                k.rangeStats(new float[] {Float.NaN, Float.NaN}));
    }

    @Test
    void histogramBinsAbsoluteValuesAndClampsTheTop() {
        long[] c = new long[4];
        // range 4: bins [0,1) [1,2) [2,3) [3,4)
        k.histogram(new float[] {0f, -0.5f, 1f, -2.5f, 3.99f, 100f, Float.NaN}, 0.25f, 4, false, c, null);
        assertArrayEquals(new long[] {2, 1, 1, 2}, c);
        long[] pos = new long[4];
        long[] neg = new long[4];
        k.histogram(new float[] {-0f, 0.5f, -1.5f, 3f, -3.5f}, 0.25f, 4, true, pos, neg);
        assertArrayEquals(new long[] {2, 0, 0, 1}, pos);
        assertArrayEquals(new long[] {0, 1, 0, 1}, neg);
    }

    @Test
    void channelAbsMaxIgnoresNonFinite() {
        // shape [2, 3] along axis 1: channels are columns
        float[] x = {1f, -5f, Float.NaN, -2f, 4f, Float.POSITIVE_INFINITY};
        assertArrayEquals(new float[] {2f, 5f, 0f}, k.channelAbsMax(x, AxisView.of(new long[] {2, 3}, 1)));
        assertArrayEquals(new float[] {5f, 4f}, k.channelAbsMax(x, AxisView.of(new long[] {2, 3}, 0)));
    }

    @Test
    void quantizeRoundsHalfToEvenAndClamps() {
        float[] x = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1000f, -1000f, Float.NaN};
        int[] q = k.quantize(x, AxisView.perTensor(x.length), new float[] {1f}, new int[] {3}, -10, 10);
        assertArrayEquals(new int[] {3, 5, 5, 3, 1, 10, -10, 3}, q);
        // per channel along axis 1 of [1, 2, 2]: scale 0.5 then 2
        int[] q2 = k.quantize(new float[] {1f, -1f, 3f, 5f}, new AxisView(1, 2, 2), new float[] {0.5f, 2f},
                new int[] {0, 1}, -128, 127);
        assertArrayEquals(new int[] {2, -2, 3, 3}, q2); // 2.5 rounds to even 2
        assertArrayEquals(new float[] {1f, -1f, 4f, 4f},
                k.dequantize(q2, new AxisView(1, 2, 2), new float[] {0.5f, 2f}, new int[] {0, 1}));
    }

    @Test
    void dequantizeSubtractsTheZeroPointExactlyIn64Bits() {
        // kiln.h: q - zero_point is exact (64-bit), then rounded to float, then multiplied: no int32 wrap-around
        int[] q = {Integer.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE, Integer.MIN_VALUE, 5};
        int[] zp = {-1, 1, Integer.MIN_VALUE, Integer.MAX_VALUE, 3};
        float[] expected = {0x1p31f, (float) -2147483649L, (float) 4294967295L, (float) -4294967295L, 2f};
        for (int c = 0; c < q.length; c++) {
            float[] y = k.dequantize(new int[] {q[c]}, AxisView.perTensor(1), new float[] {1f}, new int[] {zp[c]});
            assertEquals(expected[c], y[0], "q " + q[c] + " zero point " + zp[c]);
            assertEquals(expected[c] * 0.5f, k.dequantize(new int[] {q[c]}, AxisView.perTensor(1),
                    new float[] {0.5f}, new int[] {zp[c]})[0]);
        }
        // the int32 difference would have wrapped to a value of the other sign
        assertTrue(k.dequantize(new int[] {Integer.MAX_VALUE}, AxisView.perTensor(1), new float[] {1f},
                new int[] {-1})[0] > 0f);
        // per channel: each channel's own zero point, still exact
        assertArrayEquals(new float[] {0x1p31f, 0x1p31f, (float) -2147483649L, (float) -2147483649L},
                k.dequantize(new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MIN_VALUE, Integer.MIN_VALUE},
                        new AxisView(1, 2, 2), new float[] {1f, 1f}, new int[] {-1, 1}));
    }

    @Test
    void fakeQuantNudgesLikeTensorFlow() {
        // min -0.1, max 1.1, 8 bits: scale = 1.2/255, zero point nudged to round(21.25) = 21
        float[] y = new float[3];
        k.fakeQuant(new float[] {-1f, 0f, 2f}, AxisView.perTensor(3), new float[] {-0.1f}, new float[] {1.1f}, 8,
                false, y);
        float scale = 1.2f / 255f;
        assertEquals(-21 * scale, y[0], 1e-7f);
        assertEquals(0f, y[1]);
        assertEquals(234 * scale, y[2], 1e-6f);
    }

    @Test
    void halfConversionHandlesSubnormalsInfNaNAndTies() {
        assertEquals((short) 0x3C00, JavaKernels.toHalf(1f));
        assertEquals((short) 0xC000, JavaKernels.toHalf(-2f));
        assertEquals((short) 0x7BFF, JavaKernels.toHalf(65504f));
        assertEquals((short) 0x7BFF, JavaKernels.toHalf(65519.99f));
        assertEquals((short) 0x7C00, JavaKernels.toHalf(65520f)); // the tie above max rounds to Inf
        assertEquals((short) 0x0001, JavaKernels.toHalf(0x1p-24f)); // smallest subnormal
        assertEquals((short) 0x0000, JavaKernels.toHalf(0x1p-25f)); // tie to even: 0
        assertEquals((short) 0x0002, JavaKernels.toHalf(0x1.8p-24f)); // tie to even: 2
        assertEquals((short) 0x0400, JavaKernels.toHalf(0x1p-14f)); // smallest normal
        assertEquals((short) 0x3C00, JavaKernels.toHalf(1f + 0x1p-11f)); // tie to even stays 1
        assertEquals((short) 0x3C02, JavaKernels.toHalf(1f + 3 * 0x1p-11f)); // tie to even goes up
        assertEquals((short) 0x8000, JavaKernels.toHalf(-0f));
        assertEquals((short) 0xFC00, JavaKernels.toHalf(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x7E00, JavaKernels.toHalf(Float.NaN));
        assertEquals((short) 0xFE00, JavaKernels.toHalf(Float.intBitsToFloat(0xFFC00000)));
        assertEquals(0x1p-24f, JavaKernels.fromHalf((short) 1));
        assertEquals(65504f, JavaKernels.fromHalf((short) 0x7BFF));
        assertEquals(Float.NEGATIVE_INFINITY, JavaKernels.fromHalf((short) 0xFC00));
        assertTrue(Float.isNaN(JavaKernels.fromHalf((short) 0x7C01)));
        for (int h = 0; h < 65536; h++) { // every finite half survives the round trip
            if ((h & 0x7C00) != 0x7C00 || (h & 0x3FF) == 0) {
                assertEquals((short) h, JavaKernels.toHalf(JavaKernels.fromHalf((short) h)), "half 0x" + Integer.toHexString(h));
            }
        }
    }

    @Test
    void magnitudeMaskKeepsLargestWithTiesToLowerIndex() {
        assertArrayEquals(new byte[] {0, 1, 1, 0, 1}, k.maskMagnitude(new float[] {1f, -3f, 2f, 2f, 5f}, 3));
        assertArrayEquals(new byte[] {1, 1, 0}, k.maskMagnitude(new float[] {1f, -1f, 1f}, 2));
        assertArrayEquals(new byte[] {0, 0, 0}, k.maskMagnitude(new float[] {1f, -1f, 1f}, 0));
    }

    @Test
    void nmMaskRunsAlongTheAxis() {
        // [4, 2] along axis 0 (MatMul [in, out]): groups are columns
        float[] w = {1f, 8f, -4f, 7f, 3f, 6f, 2f, 5f};
        byte[] m = k.maskNM(w, AxisView.of(new long[] {4, 2}, 0), 2, 4);
        assertArrayEquals(new byte[] {0, 1, 1, 1, 1, 0, 0, 0}, m);
        // ties go to the lower position
        assertArrayEquals(new byte[] {1, 1, 0, 0}, k.maskNM(new float[] {1f, 1f, 1f, 1f}, AxisView.of(new long[] {4}, 0), 2, 4));
    }

    @Test
    void blockMaskKeepsBlocksOfLargestEnergy() {
        float[] w = {1f, 1f, 3f, 0f,
                     1f, 1f, 0f, 0f};
        // blocks 2x2: energy 4 and 9
        assertArrayEquals(new byte[] {0, 0, 1, 1, 0, 0, 1, 1}, k.maskBlock(w, 2, 4, 2, 2, 1));
    }

    @Test
    void checkNMReportsViolatingGroups() {
        float[] w = {1f, 1f, 0f, 0f, 1f, 1f, 1f, 0f, 1f, 1f, 1f, 1f};
        NMCheck c = k.checkNM(w, AxisView.of(new long[] {12}, 0), 2, 4, 10);
        assertEquals(2, c.nbBad());
        assertArrayEquals(new long[] {4, 8}, c.firstBad());
        assertEquals(1, k.checkNM(w, AxisView.of(new long[] {12}, 0), 2, 4, 1).firstBad().length);
    }

    @Test
    void csrAndBsrRoundTrip() {
        float[] w = {0f, 2f, 0f, 0f,
                     -0f, 0f, 0f, 0f,
                     3f, 0f, 0f, 4f};
        CsrMatrix csr = k.packCsr(w, 3, 4);
        assertArrayEquals(new long[] {0, 1, 1, 3}, csr.rowPtr());
        assertArrayEquals(new int[] {1, 0, 3}, csr.colIdx());
        assertArrayEquals(new float[] {2f, 3f, 4f}, csr.values());
        assertArrayEquals(new float[] {0f, 2f, 0f, 0f, 0f, 0f, 0f, 0f, 3f, 0f, 0f, 4f}, k.unpackCsr(csr));
        float[] w2 = {1f, 0f, 0f, 0f,
                      0f, 2f, 0f, 0f};
        BsrMatrix bsr = k.packBsr(w2, 2, 4, 2, 2);
        assertArrayEquals(new long[] {0, 1}, bsr.blockRowPtr());
        assertArrayEquals(new int[] {0}, bsr.blockCol());
        assertArrayEquals(new float[] {1f, 0f, 0f, 2f}, bsr.values());
        assertArrayEquals(w2, k.unpackBsr(bsr));
    }

    @Test
    void pack24StoresKeptValuesAndTwoBitPositions() {
        float[] w = {0f, 5f, 0f, 6f,   // positions 1, 3
                     7f, 0f, 0f, 0f,   // one non-zero: 0 plus lowest free 1
                     0f, 0f, 0f, 0f};  // none: 0, 1
        Packed24 p = k.pack24(w, 1, 12);
        assertArrayEquals(new float[] {5f, 6f, 7f, 0f, 0f, 0f}, p.values());
        // group 0 nibble 1 | 3 << 2 = 0xD, group 1 nibble 0 | 1 << 2 = 0x4 -> byte 0x4D; group 2 0x4
        assertArrayEquals(new byte[] {(byte) 0x4D, (byte) 0x04}, p.meta());
        assertArrayEquals(w, k.unpack24(p));
        Packed24 q = k.pack24(new float[] {0f, 0f, 0f, 9f}, 1, 4);
        assertArrayEquals(new float[] {0f, 9f}, q.values());
        assertArrayEquals(new byte[] {(byte) (0 | 3 << 2)}, q.meta());
    }
}
