/*
 * Kiln's CUDA kernels (libkiln_cuda.so): the functions of kiln.h with the kiln_cuda_ prefix, same arguments, same
 * semantics and bit-identical results. Pointers are HOST pointers: each call copies its inputs to the device, runs,
 * and copies the results back. Built only where nvcc is found; cudart is linked statically, so the library loads on
 * a machine with no GPU or driver, where kiln_cuda_device_count answers KILN_ERR_NO_DEVICE.
 *
 * Where the work is a selection or a variable-length packing (kiln_cuda_mask_magnitude, kiln_cuda_mask_block,
 * kiln_cuda_csr_*, kiln_cuda_bsr_*), this version runs that step on the host with the CPU code linked into the
 * library (identical results by construction); every other function runs on the device.
 */
#ifndef KILN_KILN_CUDA_H
#define KILN_KILN_CUDA_H

#include "kiln/kiln.h"

#ifdef __cplusplus
extern "C" {
#endif

KILN_API int32_t kiln_cuda_abi_version(void);
KILN_API const char* kiln_cuda_last_error(void);

/* The probe: number of CUDA devices; KILN_ERR_NO_DEVICE (and *n = 0) when there is no device or no driver. */
KILN_API kiln_status kiln_cuda_device_count(int32_t* n);
/* The name of device `device` into name[0..capacity) (NUL-terminated, truncated to fit). */
KILN_API kiln_status kiln_cuda_device_name(int32_t device, char* name, int32_t capacity);

KILN_API kiln_status kiln_cuda_range_stats(const float* x, int64_t nb, float* out_f, int64_t* out_n);
KILN_API kiln_status kiln_cuda_histogram(const float* x, int64_t nb, float inv_range, int32_t nb_bins, int32_t mode,
                                         int64_t* counts, int64_t* neg_counts);
KILN_API kiln_status kiln_cuda_channel_absmax(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                              float* out);
KILN_API kiln_status kiln_cuda_quantize(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                        const float* scale, const int32_t* zero_point, int32_t qmin, int32_t qmax,
                                        int32_t* q);
KILN_API kiln_status kiln_cuda_dequantize(const int32_t* q, int64_t outer, int64_t nb_channels, int64_t inner,
                                          const float* scale, const int32_t* zero_point, float* y);
KILN_API kiln_status kiln_cuda_fake_quant(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                          const float* min, const float* max, int32_t num_bits, int32_t narrow_range,
                                          float* y);
KILN_API kiln_status kiln_cuda_f32_to_f16(const float* x, int64_t nb, uint16_t* h);
KILN_API kiln_status kiln_cuda_f16_to_f32(const uint16_t* h, int64_t nb, float* x);

KILN_API kiln_status kiln_cuda_mask_magnitude(const float* w, int64_t nb, int64_t nb_keep, uint8_t* mask);
KILN_API kiln_status kiln_cuda_mask_n_m(const float* w, int64_t outer, int64_t len, int64_t inner, int32_t n,
                                        int32_t m, uint8_t* mask);
KILN_API kiln_status kiln_cuda_mask_block(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                          int64_t nb_keep, uint8_t* mask);
KILN_API kiln_status kiln_cuda_check_n_m(const float* w, int64_t outer, int64_t len, int64_t inner, int32_t n,
                                         int32_t m, int64_t* nb_bad, int64_t* first_bad, int64_t max_report);
KILN_API kiln_status kiln_cuda_csr_count(const float* w, int64_t rows, int64_t cols, int64_t* nnz);
KILN_API kiln_status kiln_cuda_csr_pack(const float* w, int64_t rows, int64_t cols, int64_t* row_ptr,
                                        int32_t* col_idx, float* values, int64_t nnz);
KILN_API kiln_status kiln_cuda_csr_unpack(const int64_t* row_ptr, const int32_t* col_idx, const float* values,
                                          int64_t rows, int64_t cols, float* w);
KILN_API kiln_status kiln_cuda_bsr_count(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                         int64_t* nb_blocks);
KILN_API kiln_status kiln_cuda_bsr_pack(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                        int64_t* block_row_ptr, int32_t* block_col, float* values, int64_t nb_blocks);
KILN_API kiln_status kiln_cuda_bsr_unpack(const int64_t* block_row_ptr, const int32_t* block_col, const float* values,
                                          int64_t rows, int64_t cols, int32_t br, int32_t bc, float* w);
KILN_API kiln_status kiln_cuda_pack_2_4(const float* w, int64_t rows, int64_t cols, float* values, uint8_t* meta);
KILN_API kiln_status kiln_cuda_unpack_2_4(const float* values, const uint8_t* meta, int64_t rows, int64_t cols,
                                          float* w);

#ifdef __cplusplus
}
#endif

#endif /* KILN_KILN_CUDA_H */
