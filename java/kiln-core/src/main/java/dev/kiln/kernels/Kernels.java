package dev.kiln.kernels;

/**
 * The numeric kernels of Kiln, one interface for every backend ({@code cuda}, {@code cpu}, {@code java}).
 *
 * <p>The semantics of each method are those of the matching {@code kiln_*} function in {@code native/include/kiln/kiln.h};
 * that header is the contract. All backends give identical integer results and bit-identical floats. Arrays are used
 * whole (their length is the element count) and every argument is validated before any work: a bad argument throws
 * {@link dev.kiln.KilnArgumentException} naming it. Tensors that have an axis are described as a {@code [outer, channels, inner]}
 * view (see {@link AxisView}).
 */
public interface Kernels {

    /** The backend's name: {@code "cuda"}, {@code "cpu"} or {@code "java"}. */
    String name();

    // ---- 1. calibration statistics ----

    /** Range statistics of {@code x}; see {@code kiln_range_stats}. */
    RangeStats rangeStats(float[] x);

    /** Adds the histogram of {@code x} to {@code counts} (and {@code negCounts} in signed mode); see {@code kiln_histogram}. */
    void histogram(float[] x, float invRange, int nbBins, boolean signed, long[] counts, long[] negCounts);

    /** Per-channel max |x| of a tensor viewed along an axis; see {@code kiln_channel_absmax}. */
    float[] channelAbsMax(float[] x, AxisView view);

    // ---- 2. quantization ----

    /** ONNX QuantizeLinear, per tensor ({@code view.channels() == 1}) or per channel; see {@code kiln_quantize}. */
    int[] quantize(float[] x, AxisView view, float[] scale, int[] zeroPoint, int qmin, int qmax);

    /** ONNX DequantizeLinear; see {@code kiln_dequantize}. */
    float[] dequantize(int[] q, AxisView view, float[] scale, int[] zeroPoint);

    /** TensorFlow FakeQuantWithMinMaxVars(PerChannel), bit for bit; see {@code kiln_fake_quant}. Writes into {@code y}. */
    void fakeQuant(float[] x, AxisView view, float[] min, float[] max, int numBits, boolean narrowRange, float[] y);

    /** float32 to IEEE binary16 bits, round to nearest even; see {@code kiln_f32_to_f16}. */
    short[] toHalf(float[] x);

    /** IEEE binary16 bits to float32; see {@code kiln_f16_to_f32}. */
    float[] fromHalf(short[] h);

    // ---- 3. sparsity ----

    /** Unstructured magnitude mask keeping exactly {@code nbKeep} elements; see {@code kiln_mask_magnitude}. */
    byte[] maskMagnitude(float[] w, long nbKeep);

    /** N:M mask along the view's axis (the input-channel axis); see {@code kiln_mask_n_m}. */
    byte[] maskNM(float[] w, AxisView view, int n, int m);

    /** Block mask on a {@code rows x cols} matrix by block energy; see {@code kiln_mask_block}. */
    byte[] maskBlock(float[] w, int rows, int cols, int blockRows, int blockCols, long nbKeepBlocks);

    /** Checks N:M along the view's axis; see {@code kiln_check_n_m}. */
    NMCheck checkNM(float[] w, AxisView view, int n, int m, int maxReport);

    /** CSR packing of a {@code rows x cols} matrix; see {@code kiln_csr_pack}. */
    CsrMatrix packCsr(float[] w, int rows, int cols);

    /** Dense matrix from CSR; see {@code kiln_csr_unpack}. */
    float[] unpackCsr(CsrMatrix csr);

    /** BSR packing with {@code blockRows x blockCols} blocks; see {@code kiln_bsr_pack}. */
    BsrMatrix packBsr(float[] w, int rows, int cols, int blockRows, int blockCols);

    /** Dense matrix from BSR; see {@code kiln_bsr_unpack}. */
    float[] unpackBsr(BsrMatrix bsr);

    /** 2:4 compressed form (values + 2-bit positions); see {@code kiln_pack_2_4} for the layout. */
    Packed24 pack24(float[] w, int rows, int cols);

    /** Dense matrix from the 2:4 compressed form; see {@code kiln_unpack_2_4}. */
    float[] unpack24(Packed24 packed);
}
