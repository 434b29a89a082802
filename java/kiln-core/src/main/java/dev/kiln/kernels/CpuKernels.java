package dev.kiln.kernels;

/**
 * The {@code cpu} backend: Kiln's C++ kernels (AVX2 / AVX-512 chosen at run time) through {@link KilnNative}. The
 * histogram, range-statistics and fake-quant kernels use {@link KernelBackends#threads()} threads on large arrays
 * (the count is handed to the library, {@code kiln_set_threads}, before such a call when it changed); the others
 * run on the calling thread. Thread safe; create it through {@link CpuKernelProvider} / {@link KernelBackends}.
 */
public final class CpuKernels extends NativeKernels {

    /** The count last handed to kiln_set_threads (0: none yet). A race only repeats the call: harmless. */
    private volatile int nativeThreads;

    /** Throws {@link dev.kiln.ErrorCode#UNAVAILABLE}, with the cause, when the native CPU library cannot load. */
    public CpuKernels() {
        NativeLibraries.requireCpu();
    }

    @Override
    public String name() {
        return CpuKernelProvider.NAME;
    }

    /** The SIMD path the library dispatches to: {@code avx512}, {@code avx2} or {@code scalar}. */
    public String isa() {
        return KilnNative.kiln_cpu_isa();
    }

    /** The thread count the native library uses now ({@code kiln_threads}). */
    public int nativeThreads() {
        return KilnNative.kiln_threads();
    }

    /** Hands {@link KernelBackends#threads()} to the library when it changed (only for arrays that may use it). */
    private void syncThreads(long nb) {
        if (nb < Parallel.THRESHOLD) {
            return;
        }
        int n = KernelBackends.threads();
        if (n != nativeThreads) {
            int status = KilnNative.kiln_set_threads(n);
            if (status != KilnNative.KILN_OK) {
                NativeStatus.check(status, "set_threads", name(), lastError());
            }
            nativeThreads = n;
        }
    }

    @Override
    protected String lastError() {
        return KilnNative.kiln_last_error();
    }

    @Override
    protected int rawRangeStats(float[] x, long nb, float[] outF, long[] outN) {
        syncThreads(nb);
        return KilnNative.kiln_range_stats(x, nb, outF, outN);
    }

    @Override
    protected int rawHistogram(float[] x, long nb, float invRange, int nbBins, int mode, long[] counts, long[] negCounts) {
        syncThreads(nb);
        return KilnNative.kiln_histogram(x, nb, invRange, nbBins, mode, counts, negCounts);
    }

    @Override
    protected int rawChannelAbsmax(float[] x, long outer, long nbChannels, long inner, float[] out) {
        return KilnNative.kiln_channel_absmax(x, outer, nbChannels, inner, out);
    }

    @Override
    protected int rawQuantize(float[] x, long outer, long nbChannels, long inner, float[] scale, int[] zeroPoint,
                           int qmin, int qmax, int[] q) {
        return KilnNative.kiln_quantize(x, outer, nbChannels, inner, scale, zeroPoint, qmin, qmax, q);
    }

    @Override
    protected int rawDequantize(int[] q, long outer, long nbChannels, long inner, float[] scale, int[] zeroPoint,
                             float[] y) {
        return KilnNative.kiln_dequantize(q, outer, nbChannels, inner, scale, zeroPoint, y);
    }

    @Override
    protected int rawFakeQuant(float[] x, long outer, long nbChannels, long inner, float[] min, float[] max, int numBits,
                            int narrowRange, float[] y) {
        syncThreads(x.length);
        return KilnNative.kiln_fake_quant(x, outer, nbChannels, inner, min, max, numBits, narrowRange, y);
    }

    @Override
    protected int rawF32ToF16(float[] x, long nb, short[] h) {
        return KilnNative.kiln_f32_to_f16(x, nb, h);
    }

    @Override
    protected int rawF16ToF32(short[] h, long nb, float[] x) {
        return KilnNative.kiln_f16_to_f32(h, nb, x);
    }

    @Override
    protected int rawMaskMagnitude(float[] w, long nb, long nbKeep, byte[] mask) {
        return KilnNative.kiln_mask_magnitude(w, nb, nbKeep, mask);
    }

    @Override
    protected int rawMaskNM(float[] w, long outer, long len, long inner, int n, int m, byte[] mask) {
        return KilnNative.kiln_mask_n_m(w, outer, len, inner, n, m, mask);
    }

    @Override
    protected int rawMaskBlock(float[] w, long rows, long cols, int br, int bc, long nbKeep, byte[] mask) {
        return KilnNative.kiln_mask_block(w, rows, cols, br, bc, nbKeep, mask);
    }

    @Override
    protected int rawCheckNM(float[] w, long outer, long len, long inner, int n, int m, long[] nbBad, long[] firstBad,
                          long maxReport) {
        return KilnNative.kiln_check_n_m(w, outer, len, inner, n, m, nbBad, firstBad, maxReport);
    }

    @Override
    protected int rawCsrCount(float[] w, long rows, long cols, long[] nnz) {
        return KilnNative.kiln_csr_count(w, rows, cols, nnz);
    }

    @Override
    protected int rawCsrPack(float[] w, long rows, long cols, long[] rowPtr, int[] colIdx, float[] values, long nnz) {
        return KilnNative.kiln_csr_pack(w, rows, cols, rowPtr, colIdx, values, nnz);
    }

    @Override
    protected int rawCsrUnpack(long[] rowPtr, int[] colIdx, float[] values, long rows, long cols, float[] w) {
        return KilnNative.kiln_csr_unpack(rowPtr, colIdx, values, rows, cols, w);
    }

    @Override
    protected int rawBsrCount(float[] w, long rows, long cols, int br, int bc, long[] nbBlocks) {
        return KilnNative.kiln_bsr_count(w, rows, cols, br, bc, nbBlocks);
    }

    @Override
    protected int rawBsrPack(float[] w, long rows, long cols, int br, int bc, long[] blockRowPtr, int[] blockCol,
                          float[] values, long nbBlocks) {
        return KilnNative.kiln_bsr_pack(w, rows, cols, br, bc, blockRowPtr, blockCol, values, nbBlocks);
    }

    @Override
    protected int rawBsrUnpack(long[] blockRowPtr, int[] blockCol, float[] values, long rows, long cols, int br, int bc,
                            float[] w) {
        return KilnNative.kiln_bsr_unpack(blockRowPtr, blockCol, values, rows, cols, br, bc, w);
    }

    @Override
    protected int rawPack24(float[] w, long rows, long cols, float[] values, byte[] meta) {
        return KilnNative.kiln_pack_2_4(w, rows, cols, values, meta);
    }

    @Override
    protected int rawUnpack24(float[] values, byte[] meta, long rows, long cols, float[] w) {
        return KilnNative.kiln_unpack_2_4(values, meta, rows, cols, w);
    }
}
