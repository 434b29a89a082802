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
        // Large arrays: one partial result per worker (see Parallel), merged in worker order. min/max and the counts
        // are exact, so the merge equals one pass for every thread count.
        int nbWorkers = Parallel.workers(x.length, Parallel.chunkCount(x.length, Parallel.CHUNK));
        if (nbWorkers == 1) {
            return rangeStats(x, 0, x.length);
        }
        RangeStats[] part = new RangeStats[nbWorkers];
        Parallel.forWorkerRanges(nbWorkers, x.length, Parallel.CHUNK, (w, from, to) -> part[w] = rangeStats(x, from, to));
        RangeStats all = part[0];
        for (int w = 1; w < nbWorkers; w++) {
            all = all.merge(part[w]);
        }
        return all;
    }

    /** Range statistics of x[from, to). */
    private static RangeStats rangeStats(float[] x, int from, int to) {
        // Fast path: Math.min/max over everything, four independent accumulators (no per-element branch). NaN
        // poisons the result and +-Inf reaches it, so finite results prove every value was finite; otherwise the
        // exact counting loop runs. Math.min/max order -0.0f below +0.0f either way, so both paths agree.
        final int n = to;
        float min0 = Float.POSITIVE_INFINITY;
        float min1 = Float.POSITIVE_INFINITY;
        float max0 = Float.NEGATIVE_INFINITY;
        float max1 = Float.NEGATIVE_INFINITY;
        int i = from;
        for (; i + 1 < n; i += 2) {
            float a = x[i];
            float b = x[i + 1];
            min0 = Math.min(min0, a);
            max0 = Math.max(max0, a);
            min1 = Math.min(min1, b);
            max1 = Math.max(max1, b);
        }
        for (; i < n; i++) {
            min0 = Math.min(min0, x[i]);
            max0 = Math.max(max0, x[i]);
        }
        float min = Math.min(min0, min1);
        float max = Math.max(max0, max1);
        if (to > from && Math.abs(min) <= Float.MAX_VALUE && Math.abs(max) <= Float.MAX_VALUE) {
            return new RangeStats(min, max, Math.max(Math.abs(min), Math.abs(max)), to - from, 0, 0, 0);
        }
        return rangeStatsWithNonFinite(x, from, to);
    }

    private static RangeStats rangeStatsWithNonFinite(float[] x, int from, int to) {
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        long nan = 0;
        long posInf = 0;
        long negInf = 0;
        for (int i = from; i < to; i++) {
            float v = x[i];
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
        long finite = (to - from) - nan - posInf - negInf;
        float absMax = finite == 0 ? 0f : Math.max(Math.abs(min), Math.abs(max));
        return new RangeStats(min, max, absMax, finite, nan, posInf, negInf);
    }

    /** Sub-histograms for large inputs: int counts, one per element of a group of four (see doHistogram). */
    private static final int NB_SUB = 4;
    /** Largest bin count for the sub-histogram path: nbBins - 1 must be exact in float32. */
    private static final int MAX_SUB_BINS = 1 << 24;

    @Override
    protected void doHistogram(float[] x, float invRange, int nbBins, boolean signed, long[] counts,
                               long[] negCounts) {
        if (nbBins > MAX_SUB_BINS || x.length < (long) NB_SUB * nbBins) {
            histogramDirect(x, invRange, nbBins, signed, counts, negCounts);
            return;
        }
        // Large arrays: workers (see Parallel) with at least 4 * nbBins elements each, every one counting into its
        // own long arrays, added up in worker order (integer sums: the same counts for every thread count).
        int nbWorkers = Parallel.workers(x.length, Parallel.chunkCount(x.length, Parallel.CHUNK));
        nbWorkers = Math.max(1, Math.min(nbWorkers, x.length / (NB_SUB * nbBins)));
        if (nbWorkers == 1) {
            histogramSub(x, 0, x.length, invRange, nbBins, signed, counts, negCounts);
            return;
        }
        long[][] partCounts = new long[nbWorkers][nbBins];
        long[][] partNeg = new long[nbWorkers][signed ? nbBins : 0];
        Parallel.forWorkerRanges(nbWorkers, x.length, Parallel.CHUNK, (w, from, to) ->
                histogramSub(x, from, to, invRange, nbBins, signed, partCounts[w], partNeg[w]));
        for (int w = 0; w < nbWorkers; w++) {
            for (int b = 0; b < nbBins; b++) {
                counts[b] += partCounts[w][b];
            }
            if (signed) {
                for (int b = 0; b < nbBins; b++) {
                    negCounts[b] += partNeg[w][b];
                }
            }
        }
    }

    /** Adds the histogram of x[from, to) through four int sub-histograms (at least 4 * nbBins elements pay). */
    private static void histogramSub(float[] x, int from, int to, float invRange, int nbBins, boolean signed,
                                     long[] counts, long[] negCounts) {
        // Four int sub-histograms, element i goes to sub-histogram i % 4, so consecutive increments never wait on
        // each other's store; each gets at most ceil(n / 4) < 2^31 counts. Bin formula of kiln.h: clamping the
        // product with min(t, nbBins - 1) before the truncation is the same as t >= nbBins ? nbBins - 1 : (int) t
        // for t >= 0. Slot nbBins collects the non-finite values (discarded); in signed mode negative values go to
        // slot stride + bin, so one int[] per sub-histogram holds both sides.
        final float nb = nbBins;
        final float lastF = nbBins - 1;
        final int stride = nbBins + 1;
        final int len = signed ? 2 * stride : stride;
        final int[] h0 = new int[len];
        final int[] h1 = new int[len];
        final int[] h2 = new int[len];
        final int[] h3 = new int[len];
        final int n = to;
        int i = from;
        if (!signed) {
            for (; i + 3 < n; i += 4) {
                h0[absBin(x[i], invRange, nb, lastF, nbBins)]++;
                h1[absBin(x[i + 1], invRange, nb, lastF, nbBins)]++;
                h2[absBin(x[i + 2], invRange, nb, lastF, nbBins)]++;
                h3[absBin(x[i + 3], invRange, nb, lastF, nbBins)]++;
            }
            for (; i < n; i++) {
                h0[absBin(x[i], invRange, nb, lastF, nbBins)]++;
            }
        } else {
            for (; i + 3 < n; i += 4) {
                h0[signedBin(x[i], invRange, nb, lastF, nbBins, stride)]++;
                h1[signedBin(x[i + 1], invRange, nb, lastF, nbBins, stride)]++;
                h2[signedBin(x[i + 2], invRange, nb, lastF, nbBins, stride)]++;
                h3[signedBin(x[i + 3], invRange, nb, lastF, nbBins, stride)]++;
            }
            for (; i < n; i++) {
                h0[signedBin(x[i], invRange, nb, lastF, nbBins, stride)]++;
            }
        }
        for (int b = 0; b < nbBins; b++) {
            counts[b] += (long) h0[b] + h1[b] + h2[b] + h3[b];
        }
        if (signed) {
            for (int b = 0; b < nbBins; b++) {
                negCounts[b] += (long) h0[stride + b] + h1[stride + b] + h2[stride + b] + h3[stride + b];
            }
        }
    }

    /** Bin of |v| (kiln.h), or {@code sentinel} (= nbBins) for NaN and Inf. */
    private static int absBin(float v, float invRange, float nb, float lastF, int sentinel) {
        float a = Math.abs(v);
        int bin = (int) Math.min((a * invRange) * nb, lastF);
        return a <= Float.MAX_VALUE ? bin : sentinel;
    }

    /** Bin of v >= 0 (also -0.0f) in [0, nbBins), of -v for v < 0 in [stride, stride + nbBins), NaN/Inf: nbBins. */
    private static int signedBin(float v, float invRange, float nb, float lastF, int sentinel, int stride) {
        float a = Math.abs(v);
        int bin = (int) Math.min((a * invRange) * nb, lastF);
        bin = v < 0f ? bin + stride : bin;
        return a <= Float.MAX_VALUE ? bin : sentinel;
    }

    /** The formula of kiln.h as written, straight into the long counts (small inputs, huge bin counts). */
    private static void histogramDirect(float[] x, float invRange, int nbBins, boolean signed, long[] counts,
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
                    y[k] = (float) ((long) q[k] - zp) * s; // exact difference in 64 bits (kiln.h), no int wrap
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
    public static float[] nudge(float min, float max, int numBits, boolean narrowRange) {
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
        float[][] params = new float[channels][];
        for (int c = 0; c < channels; c++) {
            params[c] = nudge(min[c], max[c], numBits, narrowRange);
        }
        // Elementwise, so any split over threads gives the same bits; workers take fixed chunks (see Parallel).
        final int total = x.length;
        if (channels == 1) {
            // FakeQuantWithMinMaxVars: divides by the scale
            float[] p = params[0];
            int nbWorkers = Parallel.workers(total, Parallel.chunkCount(total, Parallel.CHUNK));
            Parallel.forWorkerRanges(nbWorkers, total, Parallel.CHUNK, (w, from, to) -> {
                if (p == null) {
                    Arrays.fill(y, from, to, 0f);
                } else {
                    fakeQuantDivide(x, y, from, to, p);
                }
            });
            return;
        }
        if (inner == 1) {
            // workers take whole rows (chunks of about CHUNK elements)
            int rowsPerChunk = Math.max(1, Parallel.CHUNK / channels);
            int nbWorkers = Parallel.workers(total, Parallel.chunkCount(outer, rowsPerChunk));
            Parallel.forWorkerRanges(nbWorkers, outer, rowsPerChunk, (w, rowFrom, rowTo) ->
                    fakeQuantLastAxis(x, rowFrom, rowTo, channels, params, y));
            return;
        }
        // FakeQuantWithMinMaxVarsPerChannel on another axis: runs of `inner` elements share one channel; a worker's
        // range may start or end inside a run
        int nbWorkers = Parallel.workers(total, Parallel.chunkCount(total, Parallel.CHUNK));
        Parallel.forWorkerRanges(nbWorkers, total, Parallel.CHUNK, (w, from, to) -> {
            for (int k = from; k < to; ) {
                int run = k / inner;
                int runEnd = Math.min(to, (run + 1) * inner);
                float[] p = params[run % channels];
                if (p == null) {
                    Arrays.fill(y, k, runEnd, 0f);
                } else {
                    fakeQuantMultiply(x, y, k, runEnd, p);
                }
                k = runEnd;
            }
        });
    }

    /*
     * The clamp of kiln.h is (x > nMax ? nMax : x) then (< nMin ? nMin : .), written here as Math.max(Math.min(x,
     * nMax), nMin): NaN stays NaN either way, and the two differ only in the sign of a zero result (Math.min/max
     * order -0.0f below +0.0f), which cannot change y: clamped - nudged_min and the rest are followed by "+ 0.5f",
     * whose result is never -0.0f, so floorf and the product see the same value. Every float operation of kiln.h
     * stays a separate float32 operation in the stated order (Java never contracts to FMA).
     */

    /** 1.5 * 2^23: (u + ROUND_MAGIC) - ROUND_MAGIC rounds a float with |u| < 2^22 to the nearest integer, ties even. */
    private static final float ROUND_MAGIC = 0x1.8p23f;
    /** Bound on |u| (the argument of floorf) under which {@link #floorOfSum} is exact. */
    static final float FLOOR_FAST_LIMIT = 0x1p21f;

    /**
     * floorf(u), bit for bit, for u = fl(w + 0.5f) with |u| <= 2^21 or NaN, in float operations that C2
     * vectorizes (Math.floor goes through double, which it does not vectorize on JDK 17):
     * r = rint(u) by the 1.5 * 2^23 trick (exact below 2^22); d = u - r is exact, in [-0.5, 0.5], and a multiple
     * of 2^-25 (u >= 0.5 in magnitude has an ulp >= 2^-24; a smaller u is w + 0.5 with w in [-1, 0), exact and a
     * multiple of 2^-25); so step = min(1, max(0, d * 2^25 + 1)) is 1 for d >= 0 and 0 for d < 0, and
     * floor(u) = (r - 1) + step. The result is never -0.0f (neither is floorf of such a u), and NaN stays NaN.
     * Checked exhaustively for every float w with |w| <= 2^21 (see JavaKernelsFastPathTest for a sampled check).
     */
    static float floorOfSum(float u) {
        float r = (u + ROUND_MAGIC) - ROUND_MAGIC;
        float step = Math.min(1f, Math.max(0f, (u - r) * 0x1p25f + 1f));
        return (r - 1f) + step;
    }

    /**
     * Whether every u = ((clamped - nMin) op scale - quantZero) + 0.5f of a channel lies within the fast floor's
     * bound: clamped is in [nMin, nMax] and every float operation is monotonic, so u lies between its values at
     * clamped = nMin and clamped = nMax.
     */
    private static boolean fastFloorApplies(float[] p, boolean divide) {
        float top = divide ? (p[1] - p[0]) / p[2] : (p[1] - p[0]) * p[3];
        float lo = (0f - p[4]) + 0.5f;
        float hi = (top - p[4]) + 0.5f;
        return Math.abs(lo) <= FLOOR_FAST_LIMIT && Math.abs(hi) <= FLOOR_FAST_LIMIT;
    }

    /** Per tensor, y[from, to): ((clamped - nMin) / scale - quantZero + 0.5) floored, times scale. */
    private static void fakeQuantDivide(float[] x, float[] y, int from, int to, float[] p) {
        final float nMin = p[0];
        final float nMax = p[1];
        final float scale = p[2];
        final float quantZero = p[4];
        if (fastFloorApplies(p, true)) {
            for (int i = from; i < to; i++) {
                float v = Math.max(Math.min(x[i], nMax), nMin);
                y[i] = floorOfSum(((v - nMin) / scale - quantZero) + 0.5f) * scale;
            }
        } else {
            for (int i = from; i < to; i++) {
                float v = Math.max(Math.min(x[i], nMax), nMin);
                y[i] = (float) Math.floor(((v - nMin) / scale - quantZero) + 0.5f) * scale;
            }
        }
    }

    /** Per channel, one channel's run y[from, to): multiplies by inv_scale. */
    private static void fakeQuantMultiply(float[] x, float[] y, int from, int to, float[] p) {
        final float nMin = p[0];
        final float nMax = p[1];
        final float scale = p[2];
        final float invScale = p[3];
        final float quantZero = p[4];
        if (fastFloorApplies(p, false)) {
            for (int i = from; i < to; i++) {
                float v = Math.max(Math.min(x[i], nMax), nMin);
                y[i] = floorOfSum(((v - nMin) * invScale - quantZero) + 0.5f) * scale;
            }
        } else {
            for (int i = from; i < to; i++) {
                float v = Math.max(Math.min(x[i], nMax), nMin);
                y[i] = (float) Math.floor(((v - nMin) * invScale - quantZero) + 0.5f) * scale;
            }
        }
    }

    /** Target length of the repeated per-channel parameter rows of {@link #fakeQuantLastAxis}. */
    private static final int LAST_AXIS_BLOCK = 512;

    /**
     * TensorFlow's per-channel layout (channels last, inner = 1), rows [rowFrom, rowTo). The parameters are repeated into rows of
     * {@code rows * channels} (about 512; six such rows stay in L1, 1024 measured slower) entries, so that the inner
     * loop is long and branch free and C2 vectorizes it (a 64-iteration loop per row of x does not pay); channels
     * with min == max == 0 are zeroed afterwards.
     */
    private static void fakeQuantLastAxis(float[] x, int rowFrom, int rowTo, int channels, float[][] params,
                                          float[] y) {
        int reps = Math.max(1, Math.min(rowTo - rowFrom, LAST_AXIS_BLOCK / channels));
        int block = reps * channels;
        float[] nMin = new float[block];
        float[] nMax = new float[block];
        float[] scale = new float[block];
        float[] invScale = new float[block];
        float[] quantZero = new float[block];
        boolean anyZero = false;
        boolean fast = true;
        for (int c = 0; c < channels; c++) {
            float[] p = params[c];
            if (p == null) {
                anyZero = true; // placeholder parameters (all 0) give 0 or NaN; overwritten below
                continue;
            }
            fast &= fastFloorApplies(p, false);
            for (int r = 0, j = c; r < reps; r++, j += channels) {
                nMin[j] = p[0];
                nMax[j] = p[1];
                scale[j] = p[2];
                invScale[j] = p[3];
                quantZero[j] = p[4];
            }
        }
        int start = rowFrom * channels;
        int n = rowTo * channels;
        float[] t = new float[block];
        for (int base = start; base < n; base += block) {
            int len = Math.min(block, n - base); // a multiple of channels
            // staged through t so that every array of the loop is indexed by j alone: with x[base + j] beside
            // nMin[j], C2 (JDK 17) cannot align the two and does not vectorize (measured 4x slower)
            System.arraycopy(x, base, t, 0, len);
            // the clamp gets its own pass over t (2 KiB, in L1): with the clamp and the floor in one loop C2
            // (JDK 17) vectorizes neither and falls back to the branchy scalar Math.min/max (measured 8x slower
            // for the loop); each half alone vectorizes. The clamped value is a float either way: same result.
            for (int j = 0; j < len; j++) {
                t[j] = Math.max(Math.min(t[j], nMax[j]), nMin[j]);
            }
            if (fast) {
                for (int j = 0; j < len; j++) {
                    t[j] = floorOfSum(((t[j] - nMin[j]) * invScale[j] - quantZero[j]) + 0.5f) * scale[j];
                }
            } else {
                for (int j = 0; j < len; j++) {
                    t[j] = (float) Math.floor(((t[j] - nMin[j]) * invScale[j] - quantZero[j]) + 0.5f) * scale[j];
                }
            }
            System.arraycopy(t, 0, y, base, len);
        }
        if (anyZero) {
            for (int c = 0; c < channels; c++) {
                if (params[c] == null) {
                    for (int k = start + c; k < n; k += channels) {
                        y[k] = 0f;
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

    /**
     * 2:4 packing table, indexed by a group's non-zero mask (bit p set when position p is non-zero): the meta
     * nibble p0 | p1 << 2 of the two kept positions (a group with fewer than 2 non-zeros fills up with its lowest
     * zero positions), or -1 when the group has more than 2 non-zeros.
     */
    private static final byte[] NIBBLE24 = new byte[16];

    static {
        for (int nzMask = 0; nzMask < 16; nzMask++) {
            int sel = nzMask;
            if (Integer.bitCount(sel) > 2) {
                NIBBLE24[nzMask] = -1;
                continue;
            }
            for (int p = 0; p < 4 && Integer.bitCount(sel) < 2; p++) {
                sel |= 1 << p;
            }
            int p0 = Integer.numberOfTrailingZeros(sel);
            int p1 = Integer.numberOfTrailingZeros(sel & ~(1 << p0));
            NIBBLE24[nzMask] = (byte) (p0 | (p1 << 2));
        }
    }

    /**
     * Two groups (one meta byte) at a time: indexed by the 8-bit non-zero mask of 8 consecutive elements, bits 0..7
     * the meta byte (low nibble the even group, as {@link #NIBBLE24}), bits 8..19 the four kept positions 0..7 (3 bits
     * each, in value order); -1 when either group has more than 2 non-zeros.
     */
    private static final int[] PACK24_PAIR = new int[256];

    static {
        for (int m8 = 0; m8 < 256; m8++) {
            int lo = NIBBLE24[m8 & 15];
            int hi = NIBBLE24[m8 >>> 4];
            if (lo < 0 || hi < 0) {
                PACK24_PAIR[m8] = -1;
                continue;
            }
            int pos = (lo & 3) | (lo >>> 2) << 3 | (4 + (hi & 3)) << 6 | (4 + (hi >>> 2)) << 9;
            PACK24_PAIR[m8] = (lo | hi << 4) | pos << 8;
        }
    }

    /** 1 when x != 0f (NaN included, both zeros excluded), without a branch: |bits| + 0x7fffffff carries into bit 31. */
    private static int nz(float x) {
        return ((Float.floatToRawIntBits(x) & 0x7fffffff) + 0x7fffffff) >>> 31;
    }

    /** Columns of a row packed per chunk by {@link #doPack24}: a multiple of 8, small enough to stay in L1. */
    private static final int PACK24_CHUNK = 1024;
    /** 1 << (j % 8): the weight of element j in its 8-element mask. */
    private static final float[] PACK24_WEIGHT = new float[PACK24_CHUNK];

    static {
        for (int j = 0; j < PACK24_CHUNK; j++) {
            PACK24_WEIGHT[j] = 1 << (j & 7);
        }
    }

    /*
     * 2:4 packing in three steps per chunk of a row (at most 1024 columns, staged in L1):
     * 1. copy the chunk into s, so that the next loop indexes every array by j alone (C2 on JDK 17 does not
     *    vectorize w[base + j] beside f[j]);
     * 2. f[j] = min(|s[j]| * 2^127 * 2^22, 1) * 2^(j % 8): 0 for both zeros, 2^(j % 8) for any other number (the
     *    smallest subnormal 2^-149 becomes exactly 1, large values saturate through Inf), NaN for NaN. Float
     *    operations only, so that C2 vectorizes the loop (Float.floatToRawIntBits and float-to-byte conversions
     *    are not vectorized on JDK 17);
     * 3. per 8 elements the exact sum of their 8 f values (distinct powers of two: integer and exact) is the
     *    non-zero mask; PACK24_PAIR gives the meta byte and the kept positions, read from s. A NaN sum (a NaN
     *    element) or an invalid group goes through the exact bit test of nz(), which also names the bad group.
     * Same output as the plain rule: the mask is bit p set when w != 0f, the kept values are copied bit for bit.
     */
    @Override
    protected void doPack24(float[] w, int rows, int cols, float[] values, byte[] meta) {
        final int metaRow = (int) Packed24.metaRowBytes(cols);
        final int half = cols / 2;
        final int cols8 = cols & ~7; // columns handled 8 at a time; cols % 8 == 4 leaves one group per row
        final float[] s = new float[Math.min(PACK24_CHUNK, Math.max(cols8, 8))];
        final float[] f = new float[s.length];
        final float[] weight = PACK24_WEIGHT;
        final int[] pair = PACK24_PAIR;
        for (int r = 0; r < rows; r++) {
            final int rowBase = r * cols;
            for (int c0 = 0; c0 < cols8; c0 += PACK24_CHUNK) {
                final int len = Math.min(PACK24_CHUNK, cols8 - c0);
                System.arraycopy(w, rowBase + c0, s, 0, len);
                for (int j = 0; j < len; j++) {
                    f[j] = Math.min(Math.abs(s[j]) * 0x1p127f * 0x1p22f, 1f) * weight[j];
                }
                final int v0 = r * half + c0 / 2;
                final int m0 = r * metaRow + c0 / 8;
                for (int k = 0, j = 0; j < len; k++, j += 8) {
                    float sum = ((f[j] + f[j + 1]) + (f[j + 2] + f[j + 3]))
                            + ((f[j + 4] + f[j + 5]) + (f[j + 6] + f[j + 7]));
                    int e = pair[(int) sum];
                    if (e < 0 || sum != sum) {
                        e = pair8Exact(s, j, r, (c0 + j) / 4, rowBase + c0 + j);
                    }
                    int v = v0 + 4 * k;
                    values[v] = s[j + ((e >>> 8) & 7)];
                    values[v + 1] = s[j + ((e >>> 11) & 7)];
                    values[v + 2] = s[j + ((e >>> 14) & 7)];
                    values[v + 3] = s[j + ((e >>> 17) & 7)];
                    meta[m0 + k] = (byte) e;
                }
            }
            if (cols8 < cols) { // cols % 8 == 4: the last byte's high nibble stays zero
                int b = rowBase + cols8;
                int lo = nibble24(w, b, NIBBLE24, r, cols8 / 4);
                int v = r * half + cols8 / 2;
                values[v] = w[b + (lo & 3)];
                values[v + 1] = w[b + (lo >>> 2)];
                meta[r * metaRow + metaRow - 1] = (byte) lo;
            }
        }
    }

    /** The PACK24_PAIR entry of s[j, j + 8) by the exact bit test; throws, naming the group, if it is not 2:4. */
    private static int pair8Exact(float[] s, int j, int r, int g, int flat) {
        int m8 = nz(s[j]) | nz(s[j + 1]) << 1 | nz(s[j + 2]) << 2 | nz(s[j + 3]) << 3
                | nz(s[j + 4]) << 4 | nz(s[j + 5]) << 5 | nz(s[j + 6]) << 6 | nz(s[j + 7]) << 7;
        int e = PACK24_PAIR[m8];
        if (e < 0) {
            nibble24(s, j, NIBBLE24, r, g, flat);
            nibble24(s, j + 4, NIBBLE24, r, g + 1, flat + 4);
        }
        return e;
    }

    private static int nibble24(float[] w, int b, byte[] table, int r, int g) {
        return nibble24(w, b, table, r, g, b);
    }

    /** The meta nibble of a[b, b + 4), group g of row r at flat index {@code flat} of w; throws if not 2:4. */
    private static int nibble24(float[] w, int b, byte[] table, int r, int g, int flat) {
        int nzMask = (w[b] != 0f ? 1 : 0) | (w[b + 1] != 0f ? 2 : 0) | (w[b + 2] != 0f ? 4 : 0)
                | (w[b + 3] != 0f ? 8 : 0);
        int nibble = table[nzMask];
        if (nibble < 0) {
            throw new KilnArgumentException("w is not 2:4: row " + r + ", group " + g + " (flat index " + flat
                    + ") has " + Integer.bitCount(nzMask) + " non-zeros; apply a 2:4 mask first");
        }
        return nibble;
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
