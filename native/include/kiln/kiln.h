/*
 * Kiln's flat C ABI: the only surface that JavaCPP binds.
 *
 * Rules for every entry point:
 *  - kiln_ prefix, POD arguments, returns a kiln_status (0 = OK). Nothing throws across this boundary and nothing
 *    ends the process: every function body is wrapped in try { ... } catch (...) { return KILN_ERR_INTERNAL; }.
 *  - Arguments are validated again here even though Java validated them (null pointers, counts, bins, bits,
 *    axes). A failing call writes a short message retrievable with kiln_last_error() (thread local).
 *  - Counts are int64_t ("nb" prefix). Float data is IEEE float32, C order.
 *  - The CUDA library (libkiln_cuda.so) exports the same functions with the kiln_cuda_ prefix instead of kiln_
 *    (see kilnCuda.h); its pointers are HOST pointers: it copies to the device, runs, and copies back, so that
 *    Java binds both libraries the same way.
 *
 * The semantics below are the contract: the pure-Java reference backend (dev.kiln.kernels.JavaKernels), this CPU
 * library and the CUDA library must give identical integer results and bit-identical float results.
 */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define KILN_API __declspec(dllexport)
#else
#define KILN_API __attribute__((visibility("default")))
#endif

typedef int32_t kiln_status;

enum {
    KILN_OK = 0,
    KILN_ERR_INVALID_ARGUMENT = 1, /* a null pointer, a bad count, bins, bits, axis, min > max ... */
    KILN_ERR_OUT_OF_MEMORY = 2,
    KILN_ERR_NO_DEVICE = 3,        /* CUDA: no device or no driver */
    KILN_ERR_DEVICE = 4,           /* CUDA: a runtime error on the device */
    KILN_ERR_INTERNAL = 5          /* anything else caught at the boundary */
};

/* ABI version: Java checks it once when the library loads. Bump on any signature or semantic change. */
#define KILN_ABI_VERSION 2
KILN_API int32_t kiln_abi_version(void);

/* The last error message of this thread ("" when none). Valid until the next kiln_ call on this thread. */
KILN_API const char* kiln_last_error(void);

/*
 * Which SIMD path the CPU library dispatches to at run time: "avx512", "avx2" or "scalar" (the best the CPU has;
 * the environment variable KILN_CPU_ISA=scalar|avx2 forces a lower one). Every path gives identical results.
 */
KILN_API const char* kiln_cpu_isa(void);

/*
 * Threads of the CPU library. kiln_range_stats, kiln_histogram and kiln_fake_quant split arrays of at least 2^20
 * elements into fixed chunks of 2^18 elements (rows, for a per-channel fake quantization on the last axis), whose
 * boundaries depend only on the size, run up to nb_threads workers over contiguous runs of chunks and merge the
 * partial results in chunk order. Every one of these results is exact in any order (integer counts, min/max,
 * elementwise float operations), so it is bit-identical for every thread count. Smaller arrays run on the calling
 * thread. Threads are started per call and joined before it returns; nothing runs between calls.
 * kiln_set_threads: nb_threads in 1..256 sets the count for the whole process; 0 restores the default (the
 * environment variable KILN_THREADS when it holds a number >= 1, else std::thread::hardware_concurrency()).
 * kiln_threads: the count in use. Other kernels stay single threaded.
 */
KILN_API kiln_status kiln_set_threads(int32_t nb_threads);
KILN_API int32_t kiln_threads(void);

/* ------------------------------------------------------------------------------------------------------------- */
/* 1. Calibration statistics                                                                                     */
/* ------------------------------------------------------------------------------------------------------------- */

/*
 * Range statistics of x[0..nb). Non-finite values are counted and excluded from everything else.
 * out_f[0] = min of finite values, out_f[1] = max of finite values, out_f[2] = max |x| of finite values
 *   (when there is no finite value: min = +Inf, max = -Inf, absmax = 0).
 * out_n[0] = number of finite values, out_n[1] = NaN count, out_n[2] = +Inf count, out_n[3] = -Inf count.
 * nb may be 0 (nothing is read). Results are exact, so order does not matter (min/max compare -0.0f below +0.0f,
 * as Java's Math.min/max; parity tests compare min and max with ==).
 */
KILN_API kiln_status kiln_range_stats(const float* x, int64_t nb, float* out_f /*[3]*/, int64_t* out_n /*[4]*/);

/*
 * Histogram accumulation with fixed bins over [0, range), range a power of two chosen by the caller (the caller
 * grows it by doubling and merging bin pairs). For each finite x (NaN/Inf are skipped; the caller counted them):
 *   a   = |x|                       (mode KILN_HIST_ABS)
 *   t   = (a * inv_range) * (float) nb_bins               evaluated in float32, in exactly this order
 *   bin = t >= (float) nb_bins ? nb_bins - 1 : (int64_t) t   (so a product that overflows to +Inf lands last)
 *   counts[bin] += 1
 * In mode KILN_HIST_SIGNED, x >= 0 (including -0.0f, which compares equal to 0) is binned by x into counts, and
 * x < 0 is binned by -x into neg_counts (same formula); neg_counts must not be null in that mode.
 * inv_range must be a positive power of two (1/range exactly); nb_bins must be even and >= 2. Because inv_range is a
 * power of two, a*inv_range is exact, and floor(fl(y*nb)/2) == floor(fl(y*nb/2)): bin k at range R falls exactly in
 * bin k/2 at range 2R, which is what makes growth by merging bin pairs exact and the result order independent.
 * Counts are added to (not overwritten), so one buffer accumulates over many batches.
 */
enum { KILN_HIST_ABS = 0, KILN_HIST_SIGNED = 1 };
KILN_API kiln_status kiln_histogram(const float* x, int64_t nb, float inv_range, int32_t nb_bins, int32_t mode,
                                    int64_t* counts, int64_t* neg_counts);

/*
 * Per-channel max |x| of finite values (0 for a channel with none), for a tensor viewed as [outer, channels, inner]
 * (channels = the size of the quantization axis). out has nb_channels entries and is overwritten.
 */
KILN_API kiln_status kiln_channel_absmax(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                         float* out);

/* ------------------------------------------------------------------------------------------------------------- */
/* 2. Quantization                                                                                               */
/* ------------------------------------------------------------------------------------------------------------- */

/*
 * Affine quantization, ONNX QuantizeLinear semantics, per tensor (nb_channels = 1) or per channel along an axis,
 * the tensor viewed as [outer, nb_channels, inner]. For element (o, c, i):
 *   v = x / scale[c]                        float32 division (not multiplication by a reciprocal)
 *   r = rint(v)                             round half to even (the default FE_TONEAREST mode)
 *   q = clamp(r + zero_point[c], qmin, qmax), computed in float then converted to int32
 * NaN quantizes to zero_point[c] (zero_point need not lie in [qmin, qmax]: the sum is clamped). Scales must be
 * finite and > 0; qmin < qmax; both within int32 16-bit ranges
 * (the caller derives qmin/qmax from bits 2..16, signedness and narrow range). q is written as int32.
 */
KILN_API kiln_status kiln_quantize(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                   const float* scale, const int32_t* zero_point, int32_t qmin, int32_t qmax,
                                   int32_t* q);

/*
 * Dequantization, ONNX DequantizeLinear: y = (float) (q - zero_point[c]) * scale[c], where q - zero_point[c] is
 * computed exactly (64-bit: no int32 wrap-around for extreme q), then rounded to float, then multiplied in float32.
 * NOTE for the Java reference: write (float) ((long) q - zp) * s; (float) (q - zp) wraps for |q - zp| >= 2^31.
 */
KILN_API kiln_status kiln_dequantize(const int32_t* q, int64_t outer, int64_t nb_channels, int64_t inner,
                                     const float* scale, const int32_t* zero_point, float* y);

/*
 * Fake quantization with TensorFlow's FakeQuantWithMinMaxVars(PerChannel) semantics, bit for bit.
 * For channel c, from min[c], max[c] (both finite and min <= max, checked), num_bits 2..16, narrow_range (0 or 1):
 *   quant_min = narrow_range ? 1 : 0;  quant_max = (1 << num_bits) - 1            (as float)
 *   if min == 0 and max == 0: y = 0 for the whole channel (TensorFlow's special case)
 *   scale = (max - min) / (quant_max - quant_min)                                    float32
 *   inv_scale = (quant_max - quant_min) / (max - min)                                float32 (NOT 1/scale)
 *   zero_point_from_min = quant_min - min / scale                                    float32
 *   nudged_zp = zero_point_from_min < quant_min ? quant_min
 *             : zero_point_from_min > quant_max ? quant_max
 *             : roundf(zero_point_from_min)           (round half away from zero, as std::round)
 *   nudged_min = (quant_min - nudged_zp) * scale;  nudged_max = (quant_max - nudged_zp) * scale
 *   quant_zero = floorf(-nudged_min * inv_scale + 0.5f)
 * then for each x:
 *   clamped = x > nudged_max ? nudged_max : x;  clamped = clamped < nudged_min ? nudged_min : clamped
 *                                                      (so NaN stays NaN, as in TF)
 *   nb_channels == 1 (FakeQuantWithMinMaxVars, per tensor; divides):
 *     y = floorf(((clamped - nudged_min) / scale - quant_zero) + 0.5f) * scale
 *   nb_channels > 1 (FakeQuantWithMinMaxVarsPerChannel; multiplies):
 *     y = floorf(((clamped - nudged_min) * inv_scale - quant_zero) + 0.5f) * scale
 * every operation a separate float32 operation (no FMA contraction: compile with -ffp-contract=off). This is
 * TensorFlow 2.x's fake_quant_ops_functor.h, verified bit for bit against TF 2.18 through TF Java
 * (FakeQuantMatchesTensorFlowTest, bits 2..16, narrow both ways).
 * The tensor is viewed as [outer, nb_channels, inner]; TensorFlow's per-channel op uses the last axis (inner = 1).
 * y may alias x.
 */
KILN_API kiln_status kiln_fake_quant(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                     const float* min, const float* max, int32_t num_bits, int32_t narrow_range,
                                     float* y);

/*
 * IEEE binary16 conversion, round to nearest even, with subnormals, Inf and NaN (NaN stays NaN, quiet, sign kept;
 * the half NaN payload is the top 10 bits of the float payload with the quiet bit set: sign | 0x7e00 | mant >> 13;
 * back to float: sign | 0x7fc00000 | half_mant << 13). Values >= 65520 in magnitude become Inf.
 */
KILN_API kiln_status kiln_f32_to_f16(const float* x, int64_t nb, uint16_t* h);
KILN_API kiln_status kiln_f16_to_f32(const uint16_t* h, int64_t nb, float* x);

/* ------------------------------------------------------------------------------------------------------------- */
/* 3. Sparsity                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------- */

/*
 * Unstructured magnitude mask: keep exactly nb_keep elements with the largest |w|, mask[i] = 1 kept, 0 pruned.
 * Ordering: by |w| descending; ties broken by lower index first (so the result is unique). NaN is not allowed
 * (invalid argument). 0 <= nb_keep <= nb.
 */
KILN_API kiln_status kiln_mask_magnitude(const float* w, int64_t nb, int64_t nb_keep, uint8_t* mask);

/*
 * N:M mask along an axis: the tensor viewed as [outer, len, inner] where len is the size of the (input-channel)
 * axis and must be a multiple of m. For every (o, i) and every group g of m consecutive positions along the axis,
 * keep the n elements with the largest |w|, ties to the lower position. 1 <= n <= m <= 16. |w| is compared as
 * the bits of fabsf(w) read as int32 (a total order in which NaN is above Inf).
 */
KILN_API kiln_status kiln_mask_n_m(const float* w, int64_t outer, int64_t len, int64_t inner, int32_t n, int32_t m,
                                   uint8_t* mask);

/*
 * Block mask on a 2-D matrix [rows, cols] with blocks of br x bc (rows % br == 0, cols % bc == 0; 0 <= nb_keep <=
 * the number of blocks). NaN weights are allowed: a NaN score ranks above every other (Java's Double.compare). Block score is
 * the sum of (double) w * (double) w over the block, accumulated in double in row-major order within the block; keep the nb_keep
 * blocks with the largest score, ties to the lower block index (row-major block order). The mask is elementwise.
 */
KILN_API kiln_status kiln_mask_block(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                     int64_t nb_keep, uint8_t* mask);

/*
 * N:M checker: for the same [outer, len, inner] view, count groups with more than n non-zeros. Writes the number of
 * violating groups to *nb_bad, and the flat index of the first element of up to max_report violating groups
 * (in increasing order) to first_bad (may be null when max_report == 0).
 */
KILN_API kiln_status kiln_check_n_m(const float* w, int64_t outer, int64_t len, int64_t inner, int32_t n, int32_t m,
                                    int64_t* nb_bad, int64_t* first_bad, int64_t max_report);

/*
 * CSR packing of a [rows, cols] matrix: an element is stored when w != 0 (exactly; -0.0 counts as zero).
 * Pass 1: kiln_csr_count gives nnz. Pass 2: kiln_csr_pack fills row_ptr[rows + 1], col_idx[nnz], values[nnz]
 * (row-major order). kiln_csr_unpack writes the dense matrix (zeros elsewhere).
 */
KILN_API kiln_status kiln_csr_count(const float* w, int64_t rows, int64_t cols, int64_t* nnz);
KILN_API kiln_status kiln_csr_pack(const float* w, int64_t rows, int64_t cols, int64_t* row_ptr, int32_t* col_idx,
                                   float* values, int64_t nnz);
KILN_API kiln_status kiln_csr_unpack(const int64_t* row_ptr, const int32_t* col_idx, const float* values,
                                     int64_t rows, int64_t cols, float* w);

/*
 * BSR packing with br x bc blocks: a block is stored when any of its elements is non-zero. Blocks are stored
 * row-major, each block's values row-major (br*bc floats). Pass 1 counts blocks, pass 2 fills
 * block_row_ptr[rows/br + 1], block_col[nb_blocks] (block column index) and values[nb_blocks * br * bc].
 */
KILN_API kiln_status kiln_bsr_count(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                    int64_t* nb_blocks);
KILN_API kiln_status kiln_bsr_pack(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                   int64_t* block_row_ptr, int32_t* block_col, float* values, int64_t nb_blocks);
KILN_API kiln_status kiln_bsr_unpack(const int64_t* block_row_ptr, const int32_t* block_col, const float* values,
                                     int64_t rows, int64_t cols, int32_t br, int32_t bc, float* w);

/*
 * 2:4 compressed form of a [rows, cols] matrix whose rows satisfy 2:4 along cols (cols % 4 == 0; the caller
 * transposes so that the input-channel axis is cols). Each group of 4 becomes 2 kept values and two 2-bit
 * positions:
 *   values[rows, cols/2]: for group g of row r, values[r*cols/2 + 2g] and [.. + 2g + 1] are the kept elements in
 *     increasing position order.
 *   meta[rows, cols/8] bytes: group g's nibble is (p0 | p1 << 2) with p0 < p1 its kept positions (0..3); two groups
 *     per byte, the even group in the low nibble. cols/8 is rounded up (cols % 8 == 4 leaves a zero high nibble).
 * A group with fewer than 2 non-zeros keeps zeros at the lowest free positions (so p0 < p1 always holds); a group
 * with more than 2 non-zeros is an invalid argument (use kiln_mask_n_m first). Unpack restores w exactly (a -0.0f
 * at a position that was not kept comes back as +0.0f); a meta nibble with p0 >= p1 is an invalid argument.
 */
KILN_API kiln_status kiln_pack_2_4(const float* w, int64_t rows, int64_t cols, float* values, uint8_t* meta);
KILN_API kiln_status kiln_unpack_2_4(const float* values, const uint8_t* meta, int64_t rows, int64_t cols, float* w);

#ifdef __cplusplus
}
#endif

#endif /* KILN_KILN_H */
