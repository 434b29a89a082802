package dev.kiln.kernels;

import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.CriticalRegion;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of {@code native/include/kiln/kiln.h (the CPU kernels, statically linked into the JNI library)}: static natives with the C names; every pointer is a Java primitive array, pinned
 * with {@code GetPrimitiveArrayCritical} ({@link CriticalRegion}) so that large arrays are not copied. Hand-written
 * (no generated-source tree); the JNI glue is generated at {@code process-classes} by the javacpp plugin.
 *
 * <p>Not for direct use: {@link NativeLibraries} loads this class's library once and checks the ABI version;
 * {@link CpuKernels} validates every argument before calling it. Each function returns a {@code kiln_status}
 * (0 = OK) and leaves a message for {@link #kiln_last_error()}.
 */
@Platform(include = "kiln/kiln.h", link = "kiln_cpu")
@CriticalRegion
public final class KilnNative {
    private KilnNative() {
    }

    public static final int KILN_OK = 0;
    public static final int KILN_ERR_INVALID_ARGUMENT = 1;
    public static final int KILN_ERR_OUT_OF_MEMORY = 2;
    public static final int KILN_ERR_NO_DEVICE = 3;
    public static final int KILN_ERR_DEVICE = 4;
    public static final int KILN_ERR_INTERNAL = 5;
    public static final int KILN_HIST_ABS = 0;
    public static final int KILN_HIST_SIGNED = 1;
    /** The ABI version these bindings were written for: kiln.h's KILN_ABI_VERSION. */
    public static final int KILN_ABI_VERSION = 2;

    public static native int kiln_abi_version();

    public static native @Cast("const char*") String kiln_last_error();

    public static native @Cast("const char*") String kiln_cpu_isa();

    public static native int kiln_set_threads(int nbThreads);

    public static native int kiln_threads();

    public static native int kiln_range_stats(
            @Cast("const float*") float[] x, @Cast("int64_t") long nb, @Cast("float*") float[] outF,
            @Cast("int64_t*") long[] outN);

    public static native int kiln_histogram(
            @Cast("const float*") float[] x, @Cast("int64_t") long nb, float invRange, int nbBins, int mode,
            @Cast("int64_t*") long[] counts, @Cast("int64_t*") long[] negCounts);

    public static native int kiln_channel_absmax(
            @Cast("const float*") float[] x, @Cast("int64_t") long outer, @Cast("int64_t") long nbChannels,
            @Cast("int64_t") long inner, @Cast("float*") float[] out);

    public static native int kiln_quantize(
            @Cast("const float*") float[] x, @Cast("int64_t") long outer, @Cast("int64_t") long nbChannels,
            @Cast("int64_t") long inner, @Cast("const float*") float[] scale, @Cast("const int32_t*") int[] zeroPoint,
            int qmin, int qmax, @Cast("int32_t*") int[] q);

    public static native int kiln_dequantize(
            @Cast("const int32_t*") int[] q, @Cast("int64_t") long outer, @Cast("int64_t") long nbChannels,
            @Cast("int64_t") long inner, @Cast("const float*") float[] scale, @Cast("const int32_t*") int[] zeroPoint,
            @Cast("float*") float[] y);

    public static native int kiln_fake_quant(
            @Cast("const float*") float[] x, @Cast("int64_t") long outer, @Cast("int64_t") long nbChannels,
            @Cast("int64_t") long inner, @Cast("const float*") float[] min, @Cast("const float*") float[] max,
            int numBits, int narrowRange, @Cast("float*") float[] y);

    public static native int kiln_f32_to_f16(
            @Cast("const float*") float[] x, @Cast("int64_t") long nb, @Cast("uint16_t*") short[] h);

    public static native int kiln_f16_to_f32(
            @Cast("const uint16_t*") short[] h, @Cast("int64_t") long nb, @Cast("float*") float[] x);

    public static native int kiln_mask_magnitude(
            @Cast("const float*") float[] w, @Cast("int64_t") long nb, @Cast("int64_t") long nbKeep,
            @Cast("uint8_t*") byte[] mask);

    public static native int kiln_mask_n_m(
            @Cast("const float*") float[] w, @Cast("int64_t") long outer, @Cast("int64_t") long len,
            @Cast("int64_t") long inner, int n, int m, @Cast("uint8_t*") byte[] mask);

    public static native int kiln_mask_block(
            @Cast("const float*") float[] w, @Cast("int64_t") long rows, @Cast("int64_t") long cols, int br, int bc,
            @Cast("int64_t") long nbKeep, @Cast("uint8_t*") byte[] mask);

    public static native int kiln_check_n_m(
            @Cast("const float*") float[] w, @Cast("int64_t") long outer, @Cast("int64_t") long len,
            @Cast("int64_t") long inner, int n, int m, @Cast("int64_t*") long[] nbBad,
            @Cast("int64_t*") long[] firstBad, @Cast("int64_t") long maxReport);

    public static native int kiln_csr_count(
            @Cast("const float*") float[] w, @Cast("int64_t") long rows, @Cast("int64_t") long cols,
            @Cast("int64_t*") long[] nnz);

    public static native int kiln_csr_pack(
            @Cast("const float*") float[] w, @Cast("int64_t") long rows, @Cast("int64_t") long cols,
            @Cast("int64_t*") long[] rowPtr, @Cast("int32_t*") int[] colIdx, @Cast("float*") float[] values,
            @Cast("int64_t") long nnz);

    public static native int kiln_csr_unpack(
            @Cast("const int64_t*") long[] rowPtr, @Cast("const int32_t*") int[] colIdx,
            @Cast("const float*") float[] values, @Cast("int64_t") long rows, @Cast("int64_t") long cols,
            @Cast("float*") float[] w);

    public static native int kiln_bsr_count(
            @Cast("const float*") float[] w, @Cast("int64_t") long rows, @Cast("int64_t") long cols, int br, int bc,
            @Cast("int64_t*") long[] nbBlocks);

    public static native int kiln_bsr_pack(
            @Cast("const float*") float[] w, @Cast("int64_t") long rows, @Cast("int64_t") long cols, int br, int bc,
            @Cast("int64_t*") long[] blockRowPtr, @Cast("int32_t*") int[] blockCol, @Cast("float*") float[] values,
            @Cast("int64_t") long nbBlocks);

    public static native int kiln_bsr_unpack(
            @Cast("const int64_t*") long[] blockRowPtr, @Cast("const int32_t*") int[] blockCol,
            @Cast("const float*") float[] values, @Cast("int64_t") long rows, @Cast("int64_t") long cols, int br,
            int bc, @Cast("float*") float[] w);

    public static native int kiln_pack_2_4(
            @Cast("const float*") float[] w, @Cast("int64_t") long rows, @Cast("int64_t") long cols,
            @Cast("float*") float[] values, @Cast("uint8_t*") byte[] meta);

    public static native int kiln_unpack_2_4(
            @Cast("const float*") float[] values, @Cast("const uint8_t*") byte[] meta, @Cast("int64_t") long rows,
            @Cast("int64_t") long cols, @Cast("float*") float[] w);
}
