package dev.kiln.kernels;

import dev.kiln.KilnArgumentException;

import java.util.Arrays;

/**
 * The pure-Java backend and the reference: every kernel of {@code native/include/kiln/kiln.h}, float32 operations
 * in the order stated there, so that the native backends are bit-identical to it. Stateless and thread safe.
 */
public final class JavaKernels extends ValidatingKernels {

    @Override
    public String name() {
        return JavaKernelProvider.NAME;
    }

    // ---- 1. calibration statistics ----

    @Override
    protected RangeStats doRangeStats(float[] x) {
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        long nan = 0;
        long posInf = 0;
        long negInf = 0;
        for (float v : x) {
            if (Math.abs(v) <= Float.MAX_VALUE) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            } else if (v != v) {
                nan++;
            } else if (v > 0) {
                posInf++;
            } else {
                negInf++;
            }
        }
        long finite = x.length - nan - posInf - negInf;
        float absMax = finite == 0 ? 0f : Math.max(Math.abs(min), Math.abs(max));
        return new RangeStats(min, max, absMax, finite, nan, posInf, negInf);
    }

    @Override
    protected void doHistogram(float[] x, float invRange, int nbBins, boolean signed, long[] counts,
                               long[] negCounts) {
        final float nb = nbBins;
        final int last = nbBins - 1;
        if (!signed) {
            for (float v : x) {
                float a = Math.abs(v);
                if (a <= Float.MAX_VALUE) {
                    float t = (a * invRange) * nb;
                    counts[t >= nb ? last : (int) t]++;
                }
            }
        } else {
            for (float v : x) {
                if (v >= 0f) {
                    if (v <= Float.MAX_VALUE) {
                        float t = (v * invRange) * nb;
                        counts[t >= nb ? last : (int) t]++;
                    }
                } else if (v >= -Float.MAX_VALUE) {
                    float t = (-v * invRange) * nb;
                    negCounts[t >= nb ? last : (int) t]++;
                }
            }
        }
    }

    @Override
    protected void doChannelAbsMax(float[] x, AxisView view, float[] out) {
        int outer = (int) view.outer();
        int channels = (int) view.channels();
        int inner = (int) view.inner();
        Arrays.fill(out, 0f);
        int k = 0;
        for (int o = 0; o < outer; o++) {
            for (int c = 0; c < channels; c++) {
                float m = out[c];
                for (int i = 0; i < inner; i++, k++) {
                    float a = Math.abs(x[k]);
                    if (a > m && a <= Float.MAX_VALUE) {
                        m = a;
                    }
                }
                out[c] = m;
            }
        }
    }

    // ---- 2. quantization ----

    @Override
    protected void doQuantize(float[] x, AxisView view, float[] scale, int[] zeroPoint, int qmin, int qmax, int[] q) {
        int outer = (int) view.outer();
        int channels = (int) view.channels();
        int inner = (int) view.inner();
        final float lo = qmin;
        final float hi = qmax;
        int k = 0;
        for (int o = 0; o < outer; o++) {
            for (int c = 0; c < channels; c++) {
                final float s = scale[c];
                final int zpi = zeroPoint[c];
                final float zp = zpi;
                for (int i = 0; i < inner; i++, k++) {
                    float v = x[k] / s;
                    if (v != v) {
                        q[k] = zpi;
                        continue;
                    }
                    float r = (float) Math.rint(v) + zp;
                    r = r < lo ? lo : (r > hi ? hi : r);
                    q[k] = (int) r;
                }
            }
        }
    }

    @Override
    protected void doDequantize(int[] q, AxisView view, float[] scale, int[] zeroPoint, float[] y) {
        int outer = (int) view.outer();
        int channels = (int) view.channels();
        int inner = (int) view.inner();
        int k = 0;
        for (int o = 0; o < outer; o++) {
            for (int c = 0; c < channels; c++) {
                final float s = scale[c];
                final int zp = zeroPoint[c];
                for (int i = 0; i < inner; i++, k++) {
                    y[k] = (float) (q[k] - zp) * s;
                }
            }
        }
    }

    /** std::round on a float: round half away from zero. */
    static float roundHalfAway(float v) {
        if (!(Math.abs(v) < 0x1p23f)) {
            return v; // integral already, Inf or NaN
        }
        return Math.copySign((float) Math.floor(Math.abs((double) v) + 0.5), v);
    }

    /**
     * TensorFlow's nudging (fake_quant_ops_functor.h, Nudge) for one channel: returns
     * {nudged_min, nudged_max, scale, inv_scale, quant_zero}, or null when min == max == 0 (the output is 0).
     */
    static float[] nudge(float min, float max, int numBits, boolean narrowRange) {
        if (min == 0f && max == 0f) {
            return null;
        }
        final float quantMin = narrowRange ? 1f : 0f;
        final float quantMax = (float) ((1 << numBits) - 1);
        float scale = (max - min) / (quantMax - quantMin);
        float invScale = (quantMax - quantMin) / (max - min);
        float zeroPointFromMin = quantMin - min / scale;
        float nudgedZp;
        if (zeroPointFromMin < quantMin) {
            nudgedZp = quantMin;
        } else if (zeroPointFromMin > quantMax) {
            nudgedZp = quantMax;
        } else {
            nudgedZp = roundHalfAway(zeroPointFromMin); // then static_cast<uint16>: within 0..65535 here
        }
        float nudgedMin = (quantMin - nudgedZp) * scale;
        float nudgedMax = (quantMax - nudgedZp) * scale;
        float quantZero = (float) Math.floor(-nudgedMin * invScale + 0.5f);
        return new float[] {nudgedMin, nudgedMax, scale, invScale, quantZero};
    }

    @Override
    protected void doFakeQuant(float[] x, AxisView view, float[] min, float[] max, int numBits, boolean narrowRange,
                               float[] y) {
        int outer = (int) view.outer();
        int channels = (int) view.channels();
        int inner = (int) view.inner();
        boolean perTensor = channels == 1;
        float[][] params = new float[channels][];
        for (int c = 0; c < channels; c++) {
            params[c] = nudge(min[c], max[c], numBits, narrowRange);
        }
        int k = 0;
        for (int o = 0; o < outer; o++) {
            for (int c = 0; c < channels; c++) {
                float[] p = params[c];
                if (p == null) {
                    Arrays.fill(y, k, k + inner, 0f);
                    k += inner;
                    continue;
                }
                final float nMin = p[0];
                final float nMax = p[1];
                final float scale = p[2];
                final float invScale = p[3];
                final float quantZero = p[4];
                if (perTensor) {
                    // FakeQuantWithMinMaxVars: divides by the scale
                    for (int i = 0; i < inner; i++, k++) {
                        float v = x[k];
                        v = v > nMax ? nMax : v;
                        v = v < nMin ? nMin : v;
                        y[k] = (float) Math.floor(((v - nMin) / scale - quantZero) + 0.5f) * scale;
                    }
                } else {
                    // FakeQuantWithMinMaxVarsPerChannel: multiplies by the inverse scale
                    for (int i = 0; i < inner; i++, k++) {
                        float v = x[k];
                        v = v > nMax ? nMax : v;
                        v = v < nMin ? nMin : v;
                        y[k] = (float) Math.floor(((v - nMin) * invScale - quantZero) + 0.5f) * scale;
                    }
                }
            }
        }
    }

    @Override
    protected void doToHalf(float[] x, short[] h) {
        for (int i = 0; i < x.length; i++) {
            h[i] = toHalf(x[i]);
        }
    }

    @Override
    protected void doFromHalf(short[] h, float[] x) {
        for (int i = 0; i < h.length; i++) {
            x[i] = fromHalf(h[i]);
        }
    }

    /** float32 to binary16 bits, round to nearest even (see kiln_f32_to_f16). */
    public static short toHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xFF;
        int mant = bits & 0x7FFFFF;
        if (exp == 0xFF) {
            return (short) (mant == 0 ? sign | 0x7C00 : sign | 0x7E00 | (mant >>> 13));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign;
            }
            mant |= 0x800000;
            int shift = 14 - e;
            int hm = mant >>> shift;
            int rem = mant & ((1 << shift) - 1);
            int halfway = 1 << (shift - 1);
            if (rem > halfway || (rem == halfway && (hm & 1) != 0)) {
                hm++;
            }
            return (short) (sign | hm);
        }
        int hv = (e << 10) | (mant >>> 13);
        int rem = mant & 0x1FFF;
        if (rem > 0x1000 || (rem == 0x1000 && (hv & 1) != 0)) {
            hv++; // a carry into the exponent is right, up to 0x7C00 (Inf)
        }
        return (short) (sign | hv);
    }

    /** binary16 bits to float32 (exact; NaN stays NaN, quiet, sign and payload kept). */
    public static float fromHalf(short hs) {
        int h = hs & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int e = (h >>> 10) & 0x1F;
        int m = h & 0x3FF;
        if (e == 0x1F) {
            return Float.intBitsToFloat(m == 0 ? sign | 0x7F800000 : sign | 0x7FC00000 | (m << 13));
        }
        if (e == 0) {
            float v = m * 0x1p-24f; // exact
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((e - 15 + 127) << 23) | (m << 13));
    }

    // ---- 3. sparsity ----

    @Override
    protected void doMaskMagnitude(float[] w, long nbKeep, byte[] mask) {
        int n = w.length;
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            float v = w[i];
            KilnArgumentException.check(v == v, "w[" + i + "] is NaN: magnitude masks need NaN-free weights");
            int absBits = Float.floatToRawIntBits(v) & 0x7FFFFFFF;
            keys[i] = ((long) (0x7FFFFFFF - absBits) << 32) | i; // ascending = |w| descending, then lower index
        }
        Arrays.fill(mask, (byte) 0);
        if (nbKeep == 0) {
            return;
        }
        if (nbKeep < n) {
            long kth = select(keys, (int) nbKeep - 1);
            for (int i = 0; i < n; i++) {
                int absBits = Float.floatToRawIntBits(w[i]) & 0x7FFFFFFF;
                long key = ((long) (0x7FFFFFFF - absBits) << 32) | i;
                if (key <= kth) {
                    mask[i] = 1;
                }
            }
        } else {
            Arrays.fill(mask, (byte) 1);
        }
    }

    /** The k-th smallest (0-based) of distinct keys; reorders {@code a}. */
    private static long select(long[] a, int k) {
        int lo = 0;
        int hi = a.length - 1;
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(0x5EED);
        while (hi > lo) {
            long pivot = a[lo + rnd.nextInt(hi - lo + 1)];
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    long t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            if (k <= j) {
                hi = j;
            } else if (k >= i) {
                lo = i;
            } else {
                return a[k];
            }
        }
        return a[k];
    }

    @Override
    protected void doMaskNM(float[] w, AxisView view, int n, int m, byte[] mask) {
        int outer = (int) view.outer();
        int len = (int) view.channels();
        int inner = (int) view.inner();
        int[] abs = new int[m];
        for (int o = 0; o < outer; o++) {
            for (int g = 0; g < len; g += m) {
                int base = (o * len + g) * inner;
                for (int i = 0; i < inner; i++) {
                    for (int p = 0; p < m; p++) {
                        abs[p] = Float.floatToRawIntBits(w[base + p * inner + i]) & 0x7FFFFFFF;
                    }
                    for (int p = 0; p < m; p++) {
                        int ap = abs[p];
                        int rank = 0;
                        for (int q = 0; q < m; q++) {
                            int aq = abs[q];
                            if (aq > ap || (aq == ap && q < p)) {
                                rank++;
                            }
                        }
                        mask[base + p * inner + i] = (byte) (rank < n ? 1 : 0);
                    }
                }
            }
        }
    }

    @Override
    protected void doMaskBlock(float[] w, int rows, int cols, int blockRows, int blockCols, long nbKeepBlocks,
                               byte[] mask) {
        int nbr = rows / blockRows;
        int nbc = cols / blockCols;
        int nbBlocks = nbr * nbc;
        double[] score = new double[nbBlocks];
        Integer[] order = new Integer[nbBlocks];
        for (int br = 0; br < nbr; br++) {
            for (int bc = 0; bc < nbc; bc++) {
                double s = 0;
                for (int r = 0; r < blockRows; r++) {
                    int off = (br * blockRows + r) * cols + bc * blockCols;
                    for (int c = 0; c < blockCols; c++) {
                        double v = w[off + c];
                        s += v * v;
                    }
                }
                score[br * nbc + bc] = s;
                order[br * nbc + bc] = br * nbc + bc;
            }
        }
        Arrays.sort(order, (a, b) -> {
            int cmp = Double.compare(score[b], score[a]);
            return cmp != 0 ? cmp : Integer.compare(a, b);
        });
        Arrays.fill(mask, (byte) 0);
        for (int k = 0; k < nbKeepBlocks; k++) {
            int b = order[k];
            int br = b / nbc;
            int bc = b % nbc;
            for (int r = 0; r < blockRows; r++) {
                int off = (br * blockRows + r) * cols + bc * blockCols;
                Arrays.fill(mask, off, off + blockCols, (byte) 1);
            }
        }
    }

    @Override
    protected long doCheckNM(float[] w, AxisView view, int n, int m, long[] firstBad) {
        int outer = (int) view.outer();
        int len = (int) view.channels();
        int inner = (int) view.inner();
        long nbBad = 0;
        for (int o = 0; o < outer; o++) {
            for (int g = 0; g < len; g += m) {
                int base = (o * len + g) * inner;
                for (int i = 0; i < inner; i++) {
                    int nz = 0;
                    for (int p = 0; p < m; p++) {
                        if (w[base + p * inner + i] != 0f) {
                            nz++;
                        }
                    }
                    if (nz > n) {
                        if (nbBad < firstBad.length) {
                            firstBad[(int) nbBad] = base + i;
                        }
                        nbBad++;
                    }
                }
            }
        }
        return nbBad;
    }

    @Override
    protected long doCsrCount(float[] w, int rows, int cols) {
        long nnz = 0;
        for (float v : w) {
            if (v != 0f) {
                nnz++;
            }
        }
        return nnz;
    }

    @Override
    protected void doCsrPack(float[] w, int rows, int cols, long[] rowPtr, int[] colIdx, float[] values) {
        int k = 0;
        rowPtr[0] = 0;
        for (int r = 0; r < rows; r++) {
            int off = r * cols;
            for (int c = 0; c < cols; c++) {
                float v = w[off + c];
                if (v != 0f) {
                    colIdx[k] = c;
                    values[k] = v;
                    k++;
                }
            }
            rowPtr[r + 1] = k;
        }
    }

    @Override
    protected void doCsrUnpack(CsrMatrix csr, float[] w) {
        long[] rowPtr = csr.rowPtr();
        int[] colIdx = csr.colIdx();
        float[] values = csr.values();
        int cols = csr.cols();
        Arrays.fill(w, 0f);
        for (int r = 0; r < csr.rows(); r++) {
            for (int k = (int) rowPtr[r]; k < rowPtr[r + 1]; k++) {
                w[r * cols + colIdx[k]] = values[k];
            }
        }
    }

    private static boolean blockNonZero(float[] w, int cols, int br, int bc, int blockRows, int blockCols) {
        for (int r = 0; r < blockRows; r++) {
            int off = (br * blockRows + r) * cols + bc * blockCols;
            for (int c = 0; c < blockCols; c++) {
                if (w[off + c] != 0f) {
                    return true;
                }
            }
        }
        return false;
    }

    @Override
    protected long doBsrCount(float[] w, int rows, int cols, int blockRows, int blockCols) {
        long nb = 0;
        for (int br = 0; br < rows / blockRows; br++) {
            for (int bc = 0; bc < cols / blockCols; bc++) {
                if (blockNonZero(w, cols, br, bc, blockRows, blockCols)) {
                    nb++;
                }
            }
        }
        return nb;
    }

    @Override
    protected void doBsrPack(float[] w, int rows, int cols, int blockRows, int blockCols, long[] blockRowPtr,
                             int[] blockCol, float[] values) {
        int k = 0;
        int bsize = blockRows * blockCols;
        blockRowPtr[0] = 0;
        for (int br = 0; br < rows / blockRows; br++) {
            for (int bc = 0; bc < cols / blockCols; bc++) {
                if (blockNonZero(w, cols, br, bc, blockRows, blockCols)) {
                    blockCol[k] = bc;
                    for (int r = 0; r < blockRows; r++) {
                        System.arraycopy(w, (br * blockRows + r) * cols + bc * blockCols, values,
                                k * bsize + r * blockCols, blockCols);
                    }
                    k++;
                }
            }
            blockRowPtr[br + 1] = k;
        }
    }

    @Override
    protected void doBsrUnpack(BsrMatrix bsr, float[] w) {
        int blockRows = bsr.blockRows();
        int blockCols = bsr.blockCols();
        int cols = bsr.cols();
        int bsize = blockRows * blockCols;
        long[] ptr = bsr.blockRowPtr();
        int[] bcol = bsr.blockCol();
        float[] values = bsr.values();
        Arrays.fill(w, 0f);
        for (int br = 0; br < bsr.rows() / blockRows; br++) {
            for (int k = (int) ptr[br]; k < ptr[br + 1]; k++) {
                for (int r = 0; r < blockRows; r++) {
                    System.arraycopy(values, k * bsize + r * blockCols, w,
                            (br * blockRows + r) * cols + bcol[k] * blockCols, blockCols);
                }
            }
        }
    }

    @Override
    protected void doPack24(float[] w, int rows, int cols, float[] values, byte[] meta) {
        int groups = cols / 4;
        int metaRow = (int) Packed24.metaRowBytes(cols);
        int half = cols / 2;
        Arrays.fill(meta, (byte) 0);
        for (int r = 0; r < rows; r++) {
            int off = r * cols;
            for (int g = 0; g < groups; g++) {
                int b = off + 4 * g;
                int nzMask = (w[b] != 0f ? 1 : 0) | (w[b + 1] != 0f ? 2 : 0) | (w[b + 2] != 0f ? 4 : 0)
                        | (w[b + 3] != 0f ? 8 : 0);
                int p0;
                int p1;
                int nz = Integer.bitCount(nzMask);
                if (nz > 2) {
                    throw new KilnArgumentException("w is not 2:4: row " + r + ", group " + g + " (flat index " + b
                            + ") has " + nz + " non-zeros; apply a 2:4 mask first");
                }
                if (nz == 2) {
                    p0 = Integer.numberOfTrailingZeros(nzMask);
                    p1 = Integer.numberOfTrailingZeros(nzMask & ~(1 << p0));
                } else {
                    // fill with the lowest free (zero) positions
                    int sel = nzMask;
                    for (int p = 0; p < 4 && Integer.bitCount(sel) < 2; p++) {
                        sel |= 1 << p;
                    }
                    p0 = Integer.numberOfTrailingZeros(sel);
                    p1 = Integer.numberOfTrailingZeros(sel & ~(1 << p0));
                }
                values[r * half + 2 * g] = w[b + p0];
                values[r * half + 2 * g + 1] = w[b + p1];
                int nibble = p0 | (p1 << 2);
                meta[r * metaRow + (g >> 1)] |= (byte) ((g & 1) == 0 ? nibble : nibble << 4);
            }
        }
    }

    @Override
    protected void doUnpack24(Packed24 packed, float[] w) {
        int rows = packed.rows();
        int cols = packed.cols();
        int groups = cols / 4;
        int metaRow = (int) Packed24.metaRowBytes(cols);
        int half = cols / 2;
        float[] values = packed.values();
        byte[] meta = packed.meta();
        Arrays.fill(w, 0f);
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < groups; g++) {
                int nibble = ((meta[r * metaRow + (g >> 1)] & 0xFF) >>> ((g & 1) * 4)) & 0xF;
                int p0 = nibble & 3;
                int p1 = nibble >>> 2;
                KilnArgumentException.check(p0 < p1, "meta of row " + r + ", group " + g
                        + " is invalid: positions " + p0 + ", " + p1 + " must satisfy p0 < p1");
                int b = r * cols + 4 * g;
                w[b + p0] = values[r * half + 2 * g];
                w[b + p1] = values[r * half + 2 * g + 1];
            }
        }
    }
}
