package dev.kiln.kernels;

/**
 * The {@code cuda} backend: Kiln's CUDA kernels through {@link KilnCudaNative} ({@code libkiln_cuda.so}, loaded only
 * when this backend is probed). Arrays are copied to the device and back on each call. Thread safe; create it
 * through {@link CudaKernelProvider} / {@link KernelBackends}.
 */
public final class CudaKernels extends NativeKernels {

    /** Throws {@link dev.kiln.ErrorCode#UNAVAILABLE}, with the reason, when the CUDA library or a device is missing. */
    public CudaKernels() {
        NativeLibraries.requireCuda();
    }

    @Override
    public String name() {
        return CudaKernelProvider.NAME;
    }

    @Override
    protected String lastError() {
        return KilnCudaNative.kiln_cuda_last_error();
    }

    @Override
    protected int rawRangeStats(float[] x, long nb, float[] outF, long[] outN) {
        return KilnCudaNative.kiln_cuda_range_stats(x, nb, outF, outN);
    }

    @Override
    protected int rawHistogram(float[] x, long nb, float invRange, int nbBins, int mode, long[] counts, long[] negCounts) {
        return KilnCudaNative.kiln_cuda_histogram(x, nb, invRange, nbBins, mode, counts, negCounts);
    }

    @Override
    protected int rawChannelAbsmax(float[] x, long outer, long nbChannels, long inner, float[] out) {
        return KilnCudaNative.kiln_cuda_channel_absmax(x, outer, nbChannels, inner, out);
    }

    @Override
    protected int rawQuantize(float[] x, long outer, long nbChannels, long inner, float[] scale, int[] zeroPoint,
                           int qmin, int qmax, int[] q) {
        return KilnCudaNative.kiln_cuda_quantize(x, outer, nbChannels, inner, scale, zeroPoint, qmin, qmax, q);
    }

    @Override
    protected int rawDequantize(int[] q, long outer, long nbChannels, long inner, float[] scale, int[] zeroPoint,
                             float[] y) {
        return KilnCudaNative.kiln_cuda_dequantize(q, outer, nbChannels, inner, scale, zeroPoint, y);
    }

    @Override
    protected int rawFakeQuant(float[] x, long outer, long nbChannels, long inner, float[] min, float[] max, int numBits,
                            int narrowRange, float[] y) {
        return KilnCudaNative.kiln_cuda_fake_quant(x, outer, nbChannels, inner, min, max, numBits, narrowRange, y);
    }

    @Override
    protected int rawF32ToF16(float[] x, long nb, short[] h) {
        return KilnCudaNative.kiln_cuda_f32_to_f16(x, nb, h);
    }

    @Override
    protected int rawF16ToF32(short[] h, long nb, float[] x) {
        return KilnCudaNative.kiln_cuda_f16_to_f32(h, nb, x);
    }

    @Override
    protected int rawMaskMagnitude(float[] w, long nb, long nbKeep, byte[] mask) {
        return KilnCudaNative.kiln_cuda_mask_magnitude(w, nb, nbKeep, mask);
    }

    @Override
    protected int rawMaskNM(float[] w, long outer, long len, long inner, int n, int m, byte[] mask) {
        return KilnCudaNative.kiln_cuda_mask_n_m(w, outer, len, inner, n, m, mask);
    }

    @Override
    protected int rawMaskBlock(float[] w, long rows, long cols, int br, int bc, long nbKeep, byte[] mask) {
        return KilnCudaNative.kiln_cuda_mask_block(w, rows, cols, br, bc, nbKeep, mask);
    }

    @Override
    protected int rawCheckNM(float[] w, long outer, long len, long inner, int n, int m, long[] nbBad, long[] firstBad,
                          long maxReport) {
        return KilnCudaNative.kiln_cuda_check_n_m(w, outer, len, inner, n, m, nbBad, firstBad, maxReport);
    }

    @Override
    protected int rawCsrCount(float[] w, long rows, long cols, long[] nnz) {
        return KilnCudaNative.kiln_cuda_csr_count(w, rows, cols, nnz);
    }

    @Override
    protected int rawCsrPack(float[] w, long rows, long cols, long[] rowPtr, int[] colIdx, float[] values, long nnz) {
        return KilnCudaNative.kiln_cuda_csr_pack(w, rows, cols, rowPtr, colIdx, values, nnz);
    }

    @Override
    protected int rawCsrUnpack(long[] rowPtr, int[] colIdx, float[] values, long rows, long cols, float[] w) {
        return KilnCudaNative.kiln_cuda_csr_unpack(rowPtr, colIdx, values, rows, cols, w);
    }

    @Override
    protected int rawBsrCount(float[] w, long rows, long cols, int br, int bc, long[] nbBlocks) {
        return KilnCudaNative.kiln_cuda_bsr_count(w, rows, cols, br, bc, nbBlocks);
    }

    @Override
    protected int rawBsrPack(float[] w, long rows, long cols, int br, int bc, long[] blockRowPtr, int[] blockCol,
                          float[] values, long nbBlocks) {
        return KilnCudaNative.kiln_cuda_bsr_pack(w, rows, cols, br, bc, blockRowPtr, blockCol, values, nbBlocks);
    }

    @Override
    protected int rawBsrUnpack(long[] blockRowPtr, int[] blockCol, float[] values, long rows, long cols, int br, int bc,
                            float[] w) {
        return KilnCudaNative.kiln_cuda_bsr_unpack(blockRowPtr, blockCol, values, rows, cols, br, bc, w);
    }

    @Override
    protected int rawPack24(float[] w, long rows, long cols, float[] values, byte[] meta) {
        return KilnCudaNative.kiln_cuda_pack_2_4(w, rows, cols, values, meta);
    }

    @Override
    protected int rawUnpack24(float[] values, byte[] meta, long rows, long cols, float[] w) {
        return KilnCudaNative.kiln_cuda_unpack_2_4(values, meta, rows, cols, w);
    }
}
