package dev.kiln.kernels;

import dev.kiln.KilnArgumentException;

import static dev.kiln.KilnArgumentException.check;

/**
 * The argument validation every backend runs before any work, in one place. The public methods check their
 * arguments (a bad one throws {@link KilnArgumentException} naming it), allocate the outputs, and call the matching
 * protected {@code doXxx} method, which can then assume valid, non-null arguments of the right lengths. Checks that
 * need a pass over the data (NaN in {@code maskMagnitude}, more than 2 non-zeros in a 2:4 group) are left to the
 * backend, which reports them as {@link KilnArgumentException} too.
 */
public abstract class ValidatingKernels implements Kernels {

    /** Smallest and largest quantized values the kernels accept (int32 holding 16-bit ranges). */
    public static final int QMIN_LIMIT = -32768;
    public static final int QMAX_LIMIT = 65535;

    // ---- what a backend implements ----

    protected abstract RangeStats doRangeStats(float[] x);

    protected abstract void doHistogram(float[] x, float invRange, int nbBins, boolean signed, long[] counts,
                                        long[] negCounts);

    protected abstract void doChannelAbsMax(float[] x, AxisView view, float[] out);

    protected abstract void doQuantize(float[] x, AxisView view, float[] scale, int[] zeroPoint, int qmin, int qmax,
                                       int[] q);

    protected abstract void doDequantize(int[] q, AxisView view, float[] scale, int[] zeroPoint, float[] y);

    protected abstract void doFakeQuant(float[] x, AxisView view, float[] min, float[] max, int numBits,
                                        boolean narrowRange, float[] y);

    protected abstract void doToHalf(float[] x, short[] h);

    protected abstract void doFromHalf(short[] h, float[] x);

    /** May throw {@link KilnArgumentException} when {@code w} holds NaN. */
    protected abstract void doMaskMagnitude(float[] w, long nbKeep, byte[] mask);

    protected abstract void doMaskNM(float[] w, AxisView view, int n, int m, byte[] mask);

    protected abstract void doMaskBlock(float[] w, int rows, int cols, int blockRows, int blockCols,
                                        long nbKeepBlocks, byte[] mask);

    /** Writes up to {@code firstBad.length} first indices; returns the number of violating groups. */
    protected abstract long doCheckNM(float[] w, AxisView view, int n, int m, long[] firstBad);

    protected abstract long doCsrCount(float[] w, int rows, int cols);

    protected abstract void doCsrPack(float[] w, int rows, int cols, long[] rowPtr, int[] colIdx, float[] values);

    protected abstract void doCsrUnpack(CsrMatrix csr, float[] w);

    protected abstract long doBsrCount(float[] w, int rows, int cols, int blockRows, int blockCols);

    protected abstract void doBsrPack(float[] w, int rows, int cols, int blockRows, int blockCols,
                                      long[] blockRowPtr, int[] blockCol, float[] values);

    protected abstract void doBsrUnpack(BsrMatrix bsr, float[] w);

    /** May throw {@link KilnArgumentException} when a group holds more than 2 non-zeros. */
    protected abstract void doPack24(float[] w, int rows, int cols, float[] values, byte[] meta);

    protected abstract void doUnpack24(Packed24 packed, float[] w);

    // ---- validation ----

    @Override
    public final RangeStats rangeStats(float[] x) {
        notNull(x, "x");
        return doRangeStats(x);
    }

    @Override
    public final void histogram(float[] x, float invRange, int nbBins, boolean signed, long[] counts,
                                long[] negCounts) {
        notNull(x, "x");
        checkHistogramArgs(invRange, nbBins);
        notNull(counts, "counts");
        check(counts.length == nbBins, "counts length must be nbBins = " + nbBins + ", got " + counts.length);
        if (signed) {
            notNull(negCounts, "negCounts (required in signed mode)");
            check(negCounts.length == nbBins,
                    "negCounts length must be nbBins = " + nbBins + ", got " + negCounts.length);
            check(negCounts != counts, "negCounts must not be the same array as counts");
        }
        doHistogram(x, invRange, nbBins, signed, counts, signed ? negCounts : null);
    }

    /** Checks {@code invRange} (a positive normal power of two) and {@code nbBins} (even, >= 2). */
    public static void checkHistogramArgs(float invRange, int nbBins) {
        check(nbBins >= 2 && nbBins % 2 == 0, "nbBins must be even and >= 2, got " + nbBins);
        check(isPowerOfTwo(invRange), "invRange must be a positive power of two (1/range), got " + invRange);
    }

    /** Whether {@code v} is a positive, finite, normal power of two. */
    public static boolean isPowerOfTwo(float v) {
        int bits = Float.floatToRawIntBits(v);
        int exp = (bits >>> 23) & 0xFF;
        return bits > 0 && (bits & 0x7FFFFF) == 0 && exp != 0 && exp != 0xFF;
    }

    @Override
    public final float[] channelAbsMax(float[] x, AxisView view) {
        notNull(x, "x");
        checkView(x.length, view, "x");
        float[] out = new float[(int) view.channels()];
        doChannelAbsMax(x, view, out);
        return out;
    }

    @Override
    public final int[] quantize(float[] x, AxisView view, float[] scale, int[] zeroPoint, int qmin, int qmax) {
        notNull(x, "x");
        checkView(x.length, view, "x");
        checkScales(scale, zeroPoint, view);
        check(qmin < qmax, "qmin must be < qmax, got qmin " + qmin + ", qmax " + qmax);
        check(qmin >= QMIN_LIMIT && qmax <= QMAX_LIMIT,
                "qmin/qmax must be within a 16-bit range [" + QMIN_LIMIT + ", " + QMAX_LIMIT + "], got " + qmin + ", " + qmax);
        int[] q = new int[x.length];
        doQuantize(x, view, scale, zeroPoint, qmin, qmax, q);
        return q;
    }

    @Override
    public final float[] dequantize(int[] q, AxisView view, float[] scale, int[] zeroPoint) {
        notNull(q, "q");
        checkView(q.length, view, "q");
        checkScales(scale, zeroPoint, view);
        float[] y = new float[q.length];
        doDequantize(q, view, scale, zeroPoint, y);
        return y;
    }

    @Override
    public final void fakeQuant(float[] x, AxisView view, float[] min, float[] max, int numBits, boolean narrowRange,
                                float[] y) {
        notNull(x, "x");
        checkView(x.length, view, "x");
        notNull(y, "y");
        check(y.length == x.length, "y length must equal x length " + x.length + ", got " + y.length);
        notNull(min, "min");
        notNull(max, "max");
        check(min.length == view.channels(), "min length must be channels = " + view.channels() + ", got " + min.length);
        check(max.length == view.channels(), "max length must be channels = " + view.channels() + ", got " + max.length);
        checkBits(numBits);
        for (int c = 0; c < min.length; c++) {
            check(Float.isFinite(min[c]), "min[" + c + "] must be finite, got " + min[c]);
            check(Float.isFinite(max[c]), "max[" + c + "] must be finite, got " + max[c]);
            check(min[c] <= max[c], "min[" + c + "] = " + min[c] + " must be <= max[" + c + "] = " + max[c]);
        }
        doFakeQuant(x, view, min, max, numBits, narrowRange, y);
    }

    /** Checks {@code numBits} is within 2..16. */
    public static void checkBits(int numBits) {
        check(numBits >= 2 && numBits <= 16, "numBits must be within 2..16, got " + numBits);
    }

    @Override
    public final short[] toHalf(float[] x) {
        notEmpty(x, "x");
        short[] h = new short[x.length];
        doToHalf(x, h);
        return h;
    }

    @Override
    public final float[] fromHalf(short[] h) {
        notNull(h, "h");
        check(h.length > 0, "h must not be empty");
        float[] x = new float[h.length];
        doFromHalf(h, x);
        return x;
    }

    @Override
    public final byte[] maskMagnitude(float[] w, long nbKeep) {
        notEmpty(w, "w");
        check(nbKeep >= 0 && nbKeep <= w.length, "nbKeep must be within 0.." + w.length + ", got " + nbKeep);
        byte[] mask = new byte[w.length];
        doMaskMagnitude(w, nbKeep, mask);
        return mask;
    }

    @Override
    public final byte[] maskNM(float[] w, AxisView view, int n, int m) {
        notEmpty(w, "w");
        checkView(w.length, view, "w");
        checkNM(view, n, m);
        byte[] mask = new byte[w.length];
        doMaskNM(w, view, n, m, mask);
        return mask;
    }

    private static void checkNM(AxisView view, int n, int m) {
        check(m >= 1 && m <= 16, "m must be within 1..16, got " + m);
        check(n >= 1 && n <= m, "n must be within 1..m = " + m + ", got " + n);
        check(view.channels() % m == 0,
                "the axis length " + view.channels() + " must be a multiple of m = " + m);
    }

    @Override
    public final byte[] maskBlock(float[] w, int rows, int cols, int blockRows, int blockCols, long nbKeepBlocks) {
        notEmpty(w, "w");
        checkMatrix(w.length, rows, cols, "w");
        checkBlocks(rows, cols, blockRows, blockCols);
        long nbBlocks = (long) (rows / blockRows) * (cols / blockCols);
        check(nbKeepBlocks >= 0 && nbKeepBlocks <= nbBlocks,
                "nbKeepBlocks must be within 0.." + nbBlocks + ", got " + nbKeepBlocks);
        byte[] mask = new byte[w.length];
        doMaskBlock(w, rows, cols, blockRows, blockCols, nbKeepBlocks, mask);
        return mask;
    }

    @Override
    public final NMCheck checkNM(float[] w, AxisView view, int n, int m, int maxReport) {
        notEmpty(w, "w");
        checkView(w.length, view, "w");
        checkNM(view, n, m);
        check(maxReport >= 0, "maxReport must be >= 0, got " + maxReport);
        long nbGroups = view.size() / m;
        long[] first = new long[(int) Math.min(maxReport, nbGroups)];
        long nbBad = doCheckNM(w, view, n, m, first);
        long[] reported = first.length <= nbBad ? first : java.util.Arrays.copyOf(first, (int) nbBad);
        return new NMCheck(n, m, nbBad, reported);
    }

    @Override
    public final CsrMatrix packCsr(float[] w, int rows, int cols) {
        notEmpty(w, "w");
        checkMatrix(w.length, rows, cols, "w");
        long nnz = doCsrCount(w, rows, cols);
        long[] rowPtr = new long[rows + 1];
        int[] colIdx = new int[(int) nnz];
        float[] values = new float[(int) nnz];
        doCsrPack(w, rows, cols, rowPtr, colIdx, values);
        return new CsrMatrix(rows, cols, rowPtr, colIdx, values);
    }

    @Override
    public final float[] unpackCsr(CsrMatrix csr) {
        notNull(csr, "csr");
        float[] w = new float[Math.multiplyExact(csr.rows(), csr.cols())];
        doCsrUnpack(csr, w);
        return w;
    }

    @Override
    public final BsrMatrix packBsr(float[] w, int rows, int cols, int blockRows, int blockCols) {
        notEmpty(w, "w");
        checkMatrix(w.length, rows, cols, "w");
        checkBlocks(rows, cols, blockRows, blockCols);
        long nbBlocks = doBsrCount(w, rows, cols, blockRows, blockCols);
        long[] blockRowPtr = new long[rows / blockRows + 1];
        int[] blockCol = new int[(int) nbBlocks];
        float[] values = new float[(int) (nbBlocks * blockRows * blockCols)];
        doBsrPack(w, rows, cols, blockRows, blockCols, blockRowPtr, blockCol, values);
        return new BsrMatrix(rows, cols, blockRows, blockCols, blockRowPtr, blockCol, values);
    }

    @Override
    public final float[] unpackBsr(BsrMatrix bsr) {
        notNull(bsr, "bsr");
        float[] w = new float[Math.multiplyExact(bsr.rows(), bsr.cols())];
        doBsrUnpack(bsr, w);
        return w;
    }

    @Override
    public final Packed24 pack24(float[] w, int rows, int cols) {
        notEmpty(w, "w");
        checkMatrix(w.length, rows, cols, "w");
        check(cols % 4 == 0, "cols must be a multiple of 4 for 2:4 packing, got " + cols);
        float[] values = new float[(int) Packed24.valuesLength(rows, cols)];
        byte[] meta = new byte[(int) Packed24.metaLength(rows, cols)];
        doPack24(w, rows, cols, values, meta);
        return new Packed24(rows, cols, values, meta);
    }

    @Override
    public final float[] unpack24(Packed24 packed) {
        notNull(packed, "packed");
        float[] w = new float[Math.multiplyExact(packed.rows(), packed.cols())];
        doUnpack24(packed, w);
        return w;
    }

    // ---- helpers ----

    protected static void notNull(Object o, String name) {
        check(o != null, name + " must not be null");
    }

    protected static void notEmpty(float[] a, String name) {
        notNull(a, name);
        check(a.length > 0, name + " must not be empty");
    }

    protected static void checkView(int length, AxisView view, String name) {
        notNull(view, "view");
        check(view.size() == length,
                name + " length " + length + " does not match the view " + view + " of " + view.size() + " elements");
    }

    private static void checkScales(float[] scale, int[] zeroPoint, AxisView view) {
        notNull(scale, "scale");
        notNull(zeroPoint, "zeroPoint");
        check(scale.length == view.channels(),
                "scale length must be channels = " + view.channels() + ", got " + scale.length);
        check(zeroPoint.length == view.channels(),
                "zeroPoint length must be channels = " + view.channels() + ", got " + zeroPoint.length);
        for (int c = 0; c < scale.length; c++) {
            check(Float.isFinite(scale[c]) && scale[c] > 0, "scale[" + c + "] must be finite and > 0, got " + scale[c]);
        }
    }

    private static void checkMatrix(int length, int rows, int cols, String name) {
        check(rows >= 1, "rows must be >= 1, got " + rows);
        check(cols >= 1, "cols must be >= 1, got " + cols);
        check((long) rows * cols == length,
                name + " length " + length + " does not match rows x cols = " + rows + " x " + cols);
    }

    private static void checkBlocks(int rows, int cols, int blockRows, int blockCols) {
        check(blockRows >= 1 && rows % blockRows == 0,
                "blockRows must be >= 1 and divide rows = " + rows + ", got " + blockRows);
        check(blockCols >= 1 && cols % blockCols == 0,
                "blockCols must be >= 1 and divide cols = " + cols + ", got " + blockCols);
    }
}
