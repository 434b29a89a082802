// libkiln_cuda.so where nvcc was not found at build time: every function answers KILN_ERR_NO_DEVICE with the reason,
// so the Java binding is the same everywhere and the cuda backend's probe says why it is unavailable.
#include "cpu/kilnCommon.h"
#include "kiln/kilnCuda.h"

namespace {
kiln_status notBuilt() {
    return kiln::fail(KILN_ERR_NO_DEVICE, "Kiln was built without CUDA (nvcc was not found when native/ was built)");
}
}  // namespace

#define KILN_STUB(name, ...) \
    KILN_API kiln_status name(__VA_ARGS__) { return notBuilt(); }

extern "C" {

KILN_API int32_t kiln_cuda_abi_version(void) { return KILN_ABI_VERSION; }
KILN_API const char* kiln_cuda_last_error(void) { return kiln::lastError(); }
KILN_API kiln_status kiln_cuda_device_count(int32_t* n) {
    kiln::clearError();
    if (n == nullptr) return kiln::fail(KILN_ERR_INVALID_ARGUMENT, "n must not be null");
    *n = 0;
    return notBuilt();
}
KILN_STUB(kiln_cuda_device_name, int32_t, char*, int32_t)
KILN_STUB(kiln_cuda_range_stats, const float*, int64_t, float*, int64_t*)
KILN_STUB(kiln_cuda_histogram, const float*, int64_t, float, int32_t, int32_t, int64_t*, int64_t*)
KILN_STUB(kiln_cuda_channel_absmax, const float*, int64_t, int64_t, int64_t, float*)
KILN_STUB(kiln_cuda_quantize, const float*, int64_t, int64_t, int64_t, const float*, const int32_t*, int32_t, int32_t,
          int32_t*)
KILN_STUB(kiln_cuda_dequantize, const int32_t*, int64_t, int64_t, int64_t, const float*, const int32_t*, float*)
KILN_STUB(kiln_cuda_fake_quant, const float*, int64_t, int64_t, int64_t, const float*, const float*, int32_t, int32_t,
          float*)
KILN_STUB(kiln_cuda_f32_to_f16, const float*, int64_t, uint16_t*)
KILN_STUB(kiln_cuda_f16_to_f32, const uint16_t*, int64_t, float*)
KILN_STUB(kiln_cuda_mask_magnitude, const float*, int64_t, int64_t, uint8_t*)
KILN_STUB(kiln_cuda_mask_n_m, const float*, int64_t, int64_t, int64_t, int32_t, int32_t, uint8_t*)
KILN_STUB(kiln_cuda_mask_block, const float*, int64_t, int64_t, int32_t, int32_t, int64_t, uint8_t*)
KILN_STUB(kiln_cuda_check_n_m, const float*, int64_t, int64_t, int64_t, int32_t, int32_t, int64_t*, int64_t*, int64_t)
KILN_STUB(kiln_cuda_csr_count, const float*, int64_t, int64_t, int64_t*)
KILN_STUB(kiln_cuda_csr_pack, const float*, int64_t, int64_t, int64_t*, int32_t*, float*, int64_t)
KILN_STUB(kiln_cuda_csr_unpack, const int64_t*, const int32_t*, const float*, int64_t, int64_t, float*)
KILN_STUB(kiln_cuda_bsr_count, const float*, int64_t, int64_t, int32_t, int32_t, int64_t*)
KILN_STUB(kiln_cuda_bsr_pack, const float*, int64_t, int64_t, int32_t, int32_t, int64_t*, int32_t*, float*, int64_t)
KILN_STUB(kiln_cuda_bsr_unpack, const int64_t*, const int32_t*, const float*, int64_t, int64_t, int32_t, int32_t, float*)
KILN_STUB(kiln_cuda_pack_2_4, const float*, int64_t, int64_t, float*, uint8_t*)
KILN_STUB(kiln_cuda_unpack_2_4, const float*, const uint8_t*, int64_t, int64_t, float*)

}  // extern "C"
