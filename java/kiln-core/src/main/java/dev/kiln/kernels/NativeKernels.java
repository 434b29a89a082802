package dev.kiln.kernels;

/**
 * What the two native backends share: every kernel as a call of one {@code kiln_*} (or {@code kiln_cuda_*})
 * function on validated arguments (see {@link ValidatingKernels}), with the status mapped by {@link NativeStatus}.
 * A subclass binds each raw call to its library.
 */
abstract class NativeKernels extends ValidatingKernels {

    // ---- the raw calls, one per C function (status returned, arguments already validated) ----

    protected abstract String lastError();

    protected abstract int rawRangeStats(float[] x, long nb, float[] outF, long[] outN);

    protected abstract int rawHistogram(float[] x, long nb, float invRange, int nbBins, int mode, long[] counts,
                                     long[] negCounts);

    protected abstract int rawChannelAbsmax(float[] x, long outer, long nbChannels, long inner, float[] out);

    protected abstract int rawQuantize(float[] x, long outer, long nbChannels, long inner, float[] scale,
                                    int[] zeroPoint, int qmin, int qmax, int[] q);

    protected abstract int rawDequantize(int[] q, long outer, long nbChannels, long inner, float[] scale, int[] zeroPoint,
                                      float[] y);

    protected abstract int rawFakeQuant(float[] x, long outer, long nbChannels, long inner, float[] min, float[] max,
                                     int numBits, int narrowRange, float[] y);

    protected abstract int rawF32ToF16(float[] x, long nb, short[] h);

    protected abstract int rawF16ToF32(short[] h, long nb, float[] x);

    protected abstract int rawMaskMagnitude(float[] w, long nb, long nbKeep, byte[] mask);

    protected abstract int rawMaskNM(float[] w, long outer, long len, long inner, int n, int m, byte[] mask);

    protected abstract int rawMaskBlock(float[] w, long rows, long cols, int br, int bc, long nbKeep, byte[] mask);

    protected abstract int rawCheckNM(float[] w, long outer, long len, long inner, int n, int m, long[] nbBad,
                                   long[] firstBad, long maxReport);

    protected abstract int rawCsrCount(float[] w, long rows, long cols, long[] nnz);

    protected abstract int rawCsrPack(float[] w, long rows, long cols, long[] rowPtr, int[] colIdx, float[] values,
                                   long nnz);

    protected abstract int rawCsrUnpack(long[] rowPtr, int[] colIdx, float[] values, long rows, long cols, float[] w);

    protected abstract int rawBsrCount(float[] w, long rows, long cols, int br, int bc, long[] nbBlocks);

    protected abstract int rawBsrPack(float[] w, long rows, long cols, int br, int bc, long[] blockRowPtr,
                                   int[] blockCol, float[] values, long nbBlocks);

    protected abstract int rawBsrUnpack(long[] blockRowPtr, int[] blockCol, float[] values, long rows, long cols, int br,
                                     int bc, float[] w);

    protected abstract int rawPack24(float[] w, long rows, long cols, float[] values, byte[] meta);

    protected abstract int rawUnpack24(float[] values, byte[] meta, long rows, long cols, float[] w);

    private void check(int status, String function) {
        if (status != KilnNative.KILN_OK) {
            NativeStatus.check(status, function, name(), lastError());
        }
    }

    // ---- the kernels ----

    @Override
    protected RangeStats doRangeStats(float[] x) {
        float[] f = new float[3];
        long[] n = new long[4];
        check(rawRangeStats(x, x.length, f, n), "range_stats");
        return new RangeStats(f[0], f[1], f[2], n[0], n[1], n[2], n[3]);
    }

    @Override
    protected void doHistogram(float[] x, float invRange, int nbBins, boolean signed, long[] counts,
                               long[] negCounts) {
        check(rawHistogram(x, x.length, invRange, nbBins, signed ? KilnNative.KILN_HIST_SIGNED : KilnNative.KILN_HIST_ABS,
                counts, negCounts), "histogram");
    }

    @Override
    protected void doChannelAbsMax(float[] x, AxisView view, float[] out) {
        check(rawChannelAbsmax(x, view.outer(), view.channels(), view.inner(), out), "channel_absmax");
    }

    @Override
    protected void doQuantize(float[] x, AxisView view, float[] scale, int[] zeroPoint, int qmin, int qmax, int[] q) {
        check(rawQuantize(x, view.outer(), view.channels(), view.inner(), scale, zeroPoint, qmin, qmax, q), "quantize");
    }

    @Override
    protected void doDequantize(int[] q, AxisView view, float[] scale, int[] zeroPoint, float[] y) {
        check(rawDequantize(q, view.outer(), view.channels(), view.inner(), scale, zeroPoint, y), "dequantize");
    }

    @Override
    protected void doFakeQuant(float[] x, AxisView view, float[] min, float[] max, int numBits, boolean narrowRange,
                               float[] y) {
        check(rawFakeQuant(x, view.outer(), view.channels(), view.inner(), min, max, numBits, narrowRange ? 1 : 0, y),
                "fake_quant");
    }

    @Override
    protected void doToHalf(float[] x, short[] h) {
        check(rawF32ToF16(x, x.length, h), "f32_to_f16");
    }

    @Override
    protected void doFromHalf(short[] h, float[] x) {
        check(rawF16ToF32(h, h.length, x), "f16_to_f32");
    }

    @Override
    protected void doMaskMagnitude(float[] w, long nbKeep, byte[] mask) {
        check(rawMaskMagnitude(w, w.length, nbKeep, mask), "mask_magnitude");
    }

    @Override
    protected void doMaskNM(float[] w, AxisView view, int n, int m, byte[] mask) {
        check(rawMaskNM(w, view.outer(), view.channels(), view.inner(), n, m, mask), "mask_n_m");
    }

    @Override
    protected void doMaskBlock(float[] w, int rows, int cols, int blockRows, int blockCols, long nbKeepBlocks,
                               byte[] mask) {
        check(rawMaskBlock(w, rows, cols, blockRows, blockCols, nbKeepBlocks, mask), "mask_block");
    }

    @Override
    protected long doCheckNM(float[] w, AxisView view, int n, int m, long[] firstBad) {
        long[] nbBad = new long[1];
        check(rawCheckNM(w, view.outer(), view.channels(), view.inner(), n, m, nbBad, firstBad.length == 0 ? null : firstBad,
                firstBad.length), "check_n_m");
        return nbBad[0];
    }

    @Override
    protected long doCsrCount(float[] w, int rows, int cols) {
        long[] nnz = new long[1];
        check(rawCsrCount(w, rows, cols, nnz), "csr_count");
        return nnz[0];
    }

    @Override
    protected void doCsrPack(float[] w, int rows, int cols, long[] rowPtr, int[] colIdx, float[] values) {
        check(rawCsrPack(w, rows, cols, rowPtr, colIdx, values, values.length), "csr_pack");
    }

    @Override
    protected void doCsrUnpack(CsrMatrix csr, float[] w) {
        check(rawCsrUnpack(csr.rowPtr(), csr.colIdx(), csr.values(), csr.rows(), csr.cols(), w), "csr_unpack");
    }

    @Override
    protected long doBsrCount(float[] w, int rows, int cols, int blockRows, int blockCols) {
        long[] nb = new long[1];
        check(rawBsrCount(w, rows, cols, blockRows, blockCols, nb), "bsr_count");
        return nb[0];
    }

    @Override
    protected void doBsrPack(float[] w, int rows, int cols, int blockRows, int blockCols, long[] blockRowPtr,
                             int[] blockCol, float[] values) {
        check(rawBsrPack(w, rows, cols, blockRows, blockCols, blockRowPtr, blockCol, values, blockCol.length),
                "bsr_pack");
    }

    @Override
    protected void doBsrUnpack(BsrMatrix bsr, float[] w) {
        check(rawBsrUnpack(bsr.blockRowPtr(), bsr.blockCol(), bsr.values(), bsr.rows(), bsr.cols(), bsr.blockRows(),
                bsr.blockCols(), w), "bsr_unpack");
    }

    @Override
    protected void doPack24(float[] w, int rows, int cols, float[] values, byte[] meta) {
        check(rawPack24(w, rows, cols, values, meta), "pack_2_4");
    }

    @Override
    protected void doUnpack24(Packed24 packed, float[] w) {
        check(rawUnpack24(packed.values(), packed.meta(), packed.rows(), packed.cols(), w), "unpack_2_4");
    }
}
