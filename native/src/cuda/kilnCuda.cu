// CUDA kernels behind kilnCuda.h: host pointers in and out, bit-identical to the CPU library.
// Device float arithmetic uses the explicitly rounded intrinsics (__fadd_rn, __fmul_rn, __fdiv_rn ...) and the
// library is compiled with -fmad=false, so nothing is contracted into an FMA.
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu/kilnCommon.h"
#include "fakeQuantParams.h"
#include "kiln/kilnCuda.h"

namespace kiln {
namespace cuda {
namespace {

struct DeviceError {
    cudaError_t mError;
    const char* mWhat;
};

bool isNoDevice(cudaError_t e) {
    return e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorInitializationError;
}

#define KILN_CUDA_TRY(call)                                    \
    do {                                                       \
        cudaError_t kilnErr_ = (call);                         \
        if (kilnErr_ != cudaSuccess) throw DeviceError{kilnErr_, #call}; \
    } while (0)

#define KILN_CUDA_ENTRY KILN_ENTRY
#define KILN_CUDA_EXIT                                                                                       \
    catch (const DeviceError& e) {                                                                           \
        return ::kiln::fail(isNoDevice(e.mError) ? KILN_ERR_NO_DEVICE : KILN_ERR_DEVICE, "%s: %s (%s)",      \
                            __func__, cudaGetErrorString(e.mError), e.mWhat);                                \
    }                                                                                                        \
    KILN_EXIT

// Device memory owned for the duration of one call.
template <typename T>
class DeviceBuffer {
public:
    explicit DeviceBuffer(int64_t nb) : mNb(nb) {
        if (nb > 0) KILN_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&mPtr), static_cast<size_t>(nb) * sizeof(T)));
    }
    DeviceBuffer(const T* host, int64_t nb) : DeviceBuffer(nb) { upload(host); }
    ~DeviceBuffer() {
        if (mPtr != nullptr) cudaFree(mPtr);
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    void upload(const T* host) {
        if (mNb > 0) KILN_CUDA_TRY(cudaMemcpy(mPtr, host, bytes(), cudaMemcpyHostToDevice));
    }
    void download(T* host) const {
        if (mNb > 0) KILN_CUDA_TRY(cudaMemcpy(host, mPtr, bytes(), cudaMemcpyDeviceToHost));
    }
    void zero() {
        if (mNb > 0) KILN_CUDA_TRY(cudaMemset(mPtr, 0, bytes()));
    }
    T* get() const { return mPtr; }
    size_t bytes() const { return static_cast<size_t>(mNb) * sizeof(T); }

private:
    T* mPtr = nullptr;
    int64_t mNb;
};

constexpr int kThreads = 256;

unsigned gridFor(int64_t nb) {
    int64_t blocks = (nb + kThreads - 1) / kThreads;
    if (blocks > 65535 * 8) blocks = 65535 * 8;  // grid-stride loops cover the rest
    return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

void checkLaunch() {
    KILN_CUDA_TRY(cudaGetLastError());
    KILN_CUDA_TRY(cudaDeviceSynchronize());
}

void requireDevice() {
    int n = 0;
    KILN_CUDA_TRY(cudaGetDeviceCount(&n));
    if (n == 0) throw DeviceError{cudaErrorNoDevice, "cudaGetDeviceCount"};
}

#define GRID_STRIDE(i, nb) \
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (nb); i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// ---- range statistics ----

__device__ inline int orderedKey(float f) {  // monotone int key of a float (finite values)
    int b = __float_as_int(f);
    return b >= 0 ? b : b ^ 0x7fffffff;
}

struct RangeDev {
    int mMinKey;
    int mMaxKey;
    int mAbsKey;
    unsigned long long mNan;
    unsigned long long mPosInf;
    unsigned long long mNegInf;
};

__global__ void rangeKernel(const float* x, int64_t nb, RangeDev* out) {
    const float inf = __int_as_float(0x7f800000);
    int mn = 0x7fffffff, mx = static_cast<int>(0x80000000), ab = 0;
    unsigned long long nan = 0, pinf = 0, ninf = 0;
    GRID_STRIDE(i, nb) {
        float v = x[i];
        if (isnan(v)) {
            ++nan;
        } else if (v == inf) {
            ++pinf;
        } else if (v == -inf) {
            ++ninf;
        } else {
            int k = orderedKey(v);
            mn = min(mn, k);
            mx = max(mx, k);
            ab = max(ab, __float_as_int(fabsf(v)));
        }
    }
    for (int off = 16; off > 0; off >>= 1) {
        mn = min(mn, __shfl_down_sync(0xffffffffu, mn, off));
        mx = max(mx, __shfl_down_sync(0xffffffffu, mx, off));
        ab = max(ab, __shfl_down_sync(0xffffffffu, ab, off));
        nan += __shfl_down_sync(0xffffffffu, nan, off);
        pinf += __shfl_down_sync(0xffffffffu, pinf, off);
        ninf += __shfl_down_sync(0xffffffffu, ninf, off);
    }
    if ((threadIdx.x & 31) == 0) {
        atomicMin(&out->mMinKey, mn);
        atomicMax(&out->mMaxKey, mx);
        atomicMax(&out->mAbsKey, ab);
        if (nan) atomicAdd(&out->mNan, nan);
        if (pinf) atomicAdd(&out->mPosInf, pinf);
        if (ninf) atomicAdd(&out->mNegInf, ninf);
    }
}

// ---- histogram ----

__device__ inline int64_t binOf(float a, float invRange, float nbBinsF, int32_t nbBins) {
    float y = __fmul_rn(__fmul_rn(a, invRange), nbBinsF);
    int64_t bin = y >= nbBinsF ? nbBins - 1 : static_cast<int64_t>(y);
    return bin > nbBins - 1 ? nbBins - 1 : bin;
}

// Shared-memory sub-histograms (one per warp pair) flushed with global atomics; `slots` = counts then negCounts.
__global__ void histSharedKernel(const float* x, int64_t nb, float invRange, int32_t nbBins, int isSigned,
                                 unsigned long long* slots) {
    extern __shared__ unsigned int sh[];
    const int nbSlots = isSigned ? 2 * nbBins : nbBins;
    for (int k = threadIdx.x; k < nbSlots; k += blockDim.x) sh[k] = 0;
    __syncthreads();
    const float nbBinsF = static_cast<float>(nbBins);
    const float inf = __int_as_float(0x7f800000);
    GRID_STRIDE(i, nb) {
        float v = x[i];
        float a = fabsf(v);
        if (!(a < inf)) continue;
        int64_t bin = binOf(a, invRange, nbBinsF, nbBins);
        if (isSigned && v < 0.0f) bin += nbBins;
        atomicAdd(&sh[bin], 1u);
    }
    __syncthreads();
    for (int k = threadIdx.x; k < nbSlots; k += blockDim.x) {
        if (sh[k]) atomicAdd(&slots[k], static_cast<unsigned long long>(sh[k]));
    }
}

__global__ void histGlobalKernel(const float* x, int64_t nb, float invRange, int32_t nbBins, int isSigned,
                                 unsigned long long* slots) {
    const float nbBinsF = static_cast<float>(nbBins);
    const float inf = __int_as_float(0x7f800000);
    GRID_STRIDE(i, nb) {
        float v = x[i];
        float a = fabsf(v);
        if (!(a < inf)) continue;
        int64_t bin = binOf(a, invRange, nbBinsF, nbBins);
        if (isSigned && v < 0.0f) bin += nbBins;
        atomicAdd(&slots[bin], 1ull);
    }
}

// ---- channel absmax ----

__global__ void absmaxKernel(const float* x, int64_t total, int64_t nbChannels, int64_t inner, int* out) {
    const float inf = __int_as_float(0x7f800000);
    GRID_STRIDE(i, total) {
        float a = fabsf(x[i]);
        if (a < inf) atomicMax(&out[(i / inner) % nbChannels], __float_as_int(a));
    }
}

// ---- quantization ----

__global__ void quantizeKernel(const float* x, int64_t total, int64_t nbChannels, int64_t inner, const float* scale,
                               const int32_t* zp, float qmin, float qmax, int32_t* q) {
    GRID_STRIDE(i, total) {
        const int64_t c = (i / inner) % nbChannels;
        float v = x[i];
        if (isnan(v)) {
            q[i] = zp[c];
            continue;
        }
        float t = __fadd_rn(rintf(__fdiv_rn(v, scale[c])), static_cast<float>(zp[c]));
        t = t < qmin ? qmin : t;
        t = t > qmax ? qmax : t;
        q[i] = static_cast<int32_t>(t);
    }
}

__global__ void dequantizeKernel(const int32_t* q, int64_t total, int64_t nbChannels, int64_t inner,
                                 const float* scale, const int32_t* zp, float* y) {
    GRID_STRIDE(i, total) {
        const int64_t c = (i / inner) % nbChannels;
        float d = __double2float_rn(__dsub_rn(static_cast<double>(q[i]), static_cast<double>(zp[c])));
        y[i] = __fmul_rn(d, scale[c]);
    }
}

using kiln::FqParams;
using kiln::nudge;  // host side, the same float32 steps as the CPU library

// divide: FakeQuantWithMinMaxVars (per tensor); otherwise FakeQuantWithMinMaxVarsPerChannel (multiplies).
__global__ void fakeQuantKernel(const float* x, int64_t total, int64_t nbChannels, int64_t inner,
                                const FqParams* params, int divide, float* y) {
    GRID_STRIDE(i, total) {
        const FqParams p = params[(i / inner) % nbChannels];
        if (p.mZero) {
            y[i] = 0.0f;
            continue;
        }
        float v = x[i];
        float c = v > p.mNudgedMax ? p.mNudgedMax : v;  // NaN stays NaN, as on the CPU
        c = c < p.mNudgedMin ? p.mNudgedMin : c;
        const float d = __fsub_rn(c, p.mNudgedMin);
        const float t = divide ? __fdiv_rn(d, p.mScale) : __fmul_rn(d, p.mInvScale);
        y[i] = __fmul_rn(floorf(__fadd_rn(__fsub_rn(t, p.mQuantZero), 0.5f)), p.mScale);
    }
}

// ---- float16 (same bit manipulation as the CPU library) ----

__global__ void toHalfKernel(const float* x, int64_t nb, uint16_t* h) {
    GRID_STRIDE(i, nb) {
        const uint32_t b = __float_as_uint(x[i]);
        const uint16_t sign = static_cast<uint16_t>((b >> 16) & 0x8000u);
        const uint32_t a = b & 0x7fffffffu;
        uint16_t r;
        if (a > 0x7f800000u) {
            r = static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
        } else if (a >= 0x477ff000u) {
            r = static_cast<uint16_t>(sign | 0x7c00u);
        } else if (a >= 0x38800000u) {
            const uint32_t t = a - 0x38000000u;
            r = static_cast<uint16_t>(sign | ((t + 0x0fffu + ((t >> 13) & 1u)) >> 13));
        } else {
            r = static_cast<uint16_t>(sign | static_cast<uint16_t>(rintf(__fmul_rn(__uint_as_float(a), 16777216.0f))));
        }
        h[i] = r;
    }
}

__global__ void fromHalfKernel(const uint16_t* h, int64_t nb, float* x) {
    GRID_STRIDE(i, nb) {
        const uint32_t v = h[i];
        const uint32_t sign = (v & 0x8000u) << 16;
        const uint32_t e = (v >> 10) & 0x1fu;
        const uint32_t m = v & 0x3ffu;
        uint32_t r;
        if (e == 31) {
            r = m == 0 ? (sign | 0x7f800000u) : (sign | 0x7fc00000u | (m << 13));
        } else if (e == 0) {
            r = __float_as_uint(__fmul_rn(static_cast<float>(m), 5.9604644775390625e-8f)) | sign;
        } else {
            r = sign | ((e + 112) << 23) | (m << 13);
        }
        x[i] = __uint_as_float(r);
    }
}

// ---- N:M ----

__global__ void maskNmKernel(const float* w, int64_t nbGroupsTotal, int64_t nbGroups, int64_t len, int64_t inner,
                             int n, int m, uint8_t* mask) {
    GRID_STRIDE(t, nbGroupsTotal) {
        const int64_t i = t % inner;
        const int64_t g = (t / inner) % nbGroups;
        const int64_t o = t / (inner * nbGroups);
        const int64_t base = o * len * inner + g * m * inner + i;
        uint32_t key[16];
        for (int j = 0; j < m; ++j) {
            key[j] = __float_as_uint(w[base + j * inner]) & 0x7fffffffu;  // NaN orders above Inf
        }
        for (int j = 0; j < m; ++j) {
            int rank = 0;
            for (int k = 0; k < m; ++k) rank += (key[k] > key[j] || (key[k] == key[j] && k < j)) ? 1 : 0;
            mask[base + j * inner] = rank < n ? 1 : 0;
        }
    }
}

__global__ void checkNmKernel(const float* w, int64_t nbGroupsTotal, int64_t nbGroups, int64_t len, int64_t inner,
                              int n, int m, uint8_t* bad) {
    GRID_STRIDE(t, nbGroupsTotal) {
        const int64_t i = t % inner;
        const int64_t g = (t / inner) % nbGroups;
        const int64_t o = t / (inner * nbGroups);
        const int64_t base = o * len * inner + g * m * inner + i;
        int nz = 0;
        for (int j = 0; j < m; ++j) nz += w[base + j * inner] != 0.0f ? 1 : 0;
        bad[t] = nz > n ? 1 : 0;
    }
}

// ---- 2:4 ----

// One thread per group: writes its 2 values and its nibble into nibbles[group] (bytes combined on the device below).
__global__ void pack24Kernel(const float* w, int64_t nbGroupsTotal, float* values, uint8_t* nibbles,
                             unsigned long long* firstBad) {
    GRID_STRIDE(t, nbGroupsTotal) {
        const float* g = w + 4 * t;
        int pat = (g[0] != 0.0f ? 1 : 0) | (g[1] != 0.0f ? 2 : 0) | (g[2] != 0.0f ? 4 : 0) | (g[3] != 0.0f ? 8 : 0);
        if (__popc(pat) > 2) {
            atomicMin(firstBad, static_cast<unsigned long long>(t));
            continue;
        }
        int sel = pat;
        for (int p = 0; p < 4 && __popc(sel) < 2; ++p) sel |= 1 << p;
        const int p0 = __ffs(sel) - 1;
        const int p1 = __ffs(sel & ~(1 << p0)) - 1;
        values[2 * t] = g[p0];
        values[2 * t + 1] = g[p1];
        nibbles[t] = static_cast<uint8_t>(p0 | (p1 << 2));
    }
}

__global__ void combineMetaKernel(const uint8_t* nibbles, int64_t rows, int64_t nbGroups, int64_t metaCols,
                                  uint8_t* meta) {
    GRID_STRIDE(t, rows * metaCols) {
        const int64_t r = t / metaCols, b = t % metaCols;
        const int64_t g = 2 * b;
        uint8_t lo = nibbles[r * nbGroups + g];
        uint8_t hi = g + 1 < nbGroups ? nibbles[r * nbGroups + g + 1] : 0;
        meta[t] = static_cast<uint8_t>(lo | (hi << 4));
    }
}

__global__ void unpack24Kernel(const float* values, const uint8_t* meta, int64_t rows, int64_t nbGroups,
                               int64_t metaCols, float* w, unsigned long long* firstBad) {
    GRID_STRIDE(t, rows * nbGroups) {
        const int64_t r = t / nbGroups, g = t % nbGroups;
        const int nib = (meta[r * metaCols + (g >> 1)] >> ((g & 1) * 4)) & 15;
        const int p0 = nib & 3, p1 = nib >> 2;
        if (p0 >= p1) {
            atomicMin(firstBad, static_cast<unsigned long long>(t));
            continue;
        }
        float* grp = w + 4 * t;
        grp[0] = grp[1] = grp[2] = grp[3] = 0.0f;
        grp[p0] = values[2 * t];
        grp[p1] = values[2 * t + 1];
    }
}

// ---- argument checks shared by the device entry points ----

int64_t checkView(int64_t outer, int64_t nbChannels, int64_t inner) {
    KILN_CHECK_COUNT(outer);
    KILN_CHECK(nbChannels >= 1, "nb_channels must be >= 1, got %lld", static_cast<long long>(nbChannels));
    KILN_CHECK_COUNT(inner);
    return checkedProduct(checkedProduct(outer, nbChannels, "outer * nb_channels"), inner, "tensor size");
}

void checkScales(const float* scale, int64_t nbChannels) {
    for (int64_t c = 0; c < nbChannels; ++c) {
        KILN_CHECK(std::isfinite(scale[c]) && scale[c] > 0.0f, "scale[%lld] must be finite and > 0, got %g",
                   static_cast<long long>(c), static_cast<double>(scale[c]));
    }
}

int64_t checkNm(const float* w, int64_t outer, int64_t len, int64_t inner, int32_t n, int32_t m) {
    KILN_CHECK_COUNT(outer);
    KILN_CHECK_COUNT(len);
    KILN_CHECK_COUNT(inner);
    KILN_CHECK(m >= 1 && m <= 16, "m must be in 1..16, got %d", m);
    KILN_CHECK(n >= 1 && n <= m, "n must be in 1..m (m=%d), got %d", m, n);
    KILN_CHECK(len % m == 0, "len (%lld) must be a multiple of m (%d)", static_cast<long long>(len), m);
    int64_t total = checkedProduct(checkedProduct(outer, len, "outer * len"), inner, "tensor size");
    KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
    return total;
}

int64_t check24(int64_t rows, int64_t cols) {
    KILN_CHECK_COUNT(rows);
    KILN_CHECK(cols >= 0 && cols <= std::numeric_limits<int32_t>::max(), "cols must be in 0..2^31-1, got %lld",
               static_cast<long long>(cols));
    KILN_CHECK(cols % 4 == 0, "cols (%lld) must be a multiple of 4", static_cast<long long>(cols));
    return checkedProduct(rows, cols, "rows * cols");
}

}  // namespace
}  // namespace cuda
}  // namespace kiln

using namespace kiln;
using namespace kiln::cuda;

extern "C" {

KILN_API int32_t kiln_cuda_abi_version(void) { return KILN_ABI_VERSION; }

KILN_API const char* kiln_cuda_last_error(void) { return kiln::lastError(); }

KILN_API kiln_status kiln_cuda_device_count(int32_t* n) {
    KILN_CUDA_ENTRY {
        KILN_CHECK_PTR(n);
        *n = 0;
        // Without a driver the runtime answers "CUDA driver version is insufficient for CUDA runtime version":
        // look for the driver first and say what is true.
        void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
        if (driver == nullptr) {
            return fail(KILN_ERR_NO_DEVICE, "no NVIDIA driver (libcuda.so.1 not found)");
        }
        dlclose(driver);
        int count = 0;
        cudaError_t e = cudaGetDeviceCount(&count);
        if (e == cudaErrorInsufficientDriver) {
            cudaGetLastError();
            int runtime = 0;
            cudaRuntimeGetVersion(&runtime);
            return fail(KILN_ERR_NO_DEVICE, "the NVIDIA driver is older than CUDA %d.%d, which Kiln's kernels were "
                        "built with: update the driver", runtime / 1000, runtime % 1000 / 10);
        }
        if (e != cudaSuccess || count == 0) {
            cudaGetLastError();  // clear the sticky error state of the runtime
            return fail(isNoDevice(e) || count == 0 ? KILN_ERR_NO_DEVICE : KILN_ERR_DEVICE,
                        "no CUDA device: cudaGetDeviceCount: %s", cudaGetErrorString(e));
        }
        *n = count;
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_device_name(int32_t device, char* name, int32_t capacity) {
    KILN_CUDA_ENTRY {
        KILN_CHECK_PTR(name);
        KILN_CHECK(capacity >= 1, "capacity must be >= 1, got %d", capacity);
        int count = 0;
        KILN_CUDA_TRY(cudaGetDeviceCount(&count));
        KILN_CHECK(device >= 0 && device < count, "device must be in 0..%d, got %d", count - 1, device);
        cudaDeviceProp prop;
        KILN_CUDA_TRY(cudaGetDeviceProperties(&prop, device));
        std::snprintf(name, static_cast<size_t>(capacity), "%s", prop.name);
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_range_stats(const float* x, int64_t nb, float* out_f, int64_t* out_n) {
    KILN_CUDA_ENTRY {
        KILN_CHECK_COUNT(nb);
        KILN_CHECK(nb == 0 || x != nullptr, "x must not be null");
        KILN_CHECK_PTR(out_f);
        KILN_CHECK_PTR(out_n);
        requireDevice();
        RangeDev init{0x7fffffff, static_cast<int>(0x80000000), 0, 0, 0, 0};
        DeviceBuffer<RangeDev> dOut(&init, 1);
        if (nb > 0) {
            DeviceBuffer<float> dx(x, nb);
            rangeKernel<<<gridFor(nb), kThreads>>>(dx.get(), nb, dOut.get());
            checkLaunch();
        }
        RangeDev r;
        dOut.download(&r);
        const int64_t nonFinite = static_cast<int64_t>(r.mNan + r.mPosInf + r.mNegInf);
        const float inf = std::numeric_limits<float>::infinity();
        auto fromKey = [](int k) {
            int b = k >= 0 ? k : k ^ 0x7fffffff;
            float f;
            std::memcpy(&f, &b, 4);
            return f;
        };
        const bool any = nb - nonFinite > 0;
        float absmax;
        std::memcpy(&absmax, &r.mAbsKey, 4);
        out_f[0] = any ? fromKey(r.mMinKey) : inf;  // -0.0 below +0.0, as Java's Math.min/max
        out_f[1] = any ? fromKey(r.mMaxKey) : -inf;
        out_f[2] = any ? absmax : 0.0f;
        out_n[0] = nb - nonFinite;
        out_n[1] = static_cast<int64_t>(r.mNan);
        out_n[2] = static_cast<int64_t>(r.mPosInf);
        out_n[3] = static_cast<int64_t>(r.mNegInf);
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_histogram(const float* x, int64_t nb, float inv_range, int32_t nb_bins, int32_t mode,
                                         int64_t* counts, int64_t* neg_counts) {
    KILN_CUDA_ENTRY {
        KILN_CHECK_COUNT(nb);
        KILN_CHECK(nb == 0 || x != nullptr, "x must not be null");
        KILN_CHECK(nb_bins >= 2 && nb_bins % 2 == 0, "nb_bins must be even and >= 2, got %d", nb_bins);
        KILN_CHECK(mode == KILN_HIST_ABS || mode == KILN_HIST_SIGNED,
                   "mode must be KILN_HIST_ABS or KILN_HIST_SIGNED, got %d", mode);
        int exponent = 0;
        KILN_CHECK(std::isfinite(inv_range) && inv_range > 0.0f && std::frexp(inv_range, &exponent) == 0.5f,
                   "inv_range must be a positive finite power of two, got %g", static_cast<double>(inv_range));
        KILN_CHECK_PTR(counts);
        const bool isSigned = mode == KILN_HIST_SIGNED;
        KILN_CHECK(!isSigned || neg_counts != nullptr, "neg_counts must not be null in KILN_HIST_SIGNED mode");
        if (nb == 0) return KILN_OK;
        requireDevice();
        const int64_t nbSlots = isSigned ? 2 * static_cast<int64_t>(nb_bins) : nb_bins;
        DeviceBuffer<float> dx(x, nb);
        DeviceBuffer<unsigned long long> dSlots(nbSlots);
        dSlots.zero();
        const size_t shBytes = static_cast<size_t>(nbSlots) * sizeof(unsigned int);
        if (shBytes <= 40 * 1024) {
            unsigned grid = gridFor(nb);
            if (grid > 1024) grid = 1024;
            histSharedKernel<<<grid, kThreads, shBytes>>>(dx.get(), nb, inv_range, nb_bins, isSigned ? 1 : 0,
                                                          dSlots.get());
        } else {
            histGlobalKernel<<<gridFor(nb), kThreads>>>(dx.get(), nb, inv_range, nb_bins, isSigned ? 1 : 0,
                                                        dSlots.get());
        }
        checkLaunch();
        std::vector<unsigned long long> slots(static_cast<size_t>(nbSlots));
        dSlots.download(slots.data());
        for (int32_t b = 0; b < nb_bins; ++b) counts[b] += static_cast<int64_t>(slots[b]);
        if (isSigned) {
            for (int32_t b = 0; b < nb_bins; ++b) neg_counts[b] += static_cast<int64_t>(slots[nb_bins + b]);
        }
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_channel_absmax(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                              float* out) {
    KILN_CUDA_ENTRY {
        const int64_t total = checkView(outer, nb_channels, inner);
        KILN_CHECK(total == 0 || x != nullptr, "x must not be null");
        KILN_CHECK_PTR(out);
        requireDevice();
        DeviceBuffer<int> dOut(nb_channels);
        dOut.zero();
        if (total > 0) {
            DeviceBuffer<float> dx(x, total);
            absmaxKernel<<<gridFor(total), kThreads>>>(dx.get(), total, nb_channels, inner, dOut.get());
            checkLaunch();
        }
        dOut.download(reinterpret_cast<int*>(out));  // non-negative float bits are their own int order
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_quantize(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                        const float* scale, const int32_t* zero_point, int32_t qmin, int32_t qmax,
                                        int32_t* q) {
    KILN_CUDA_ENTRY {
        const int64_t total = checkView(outer, nb_channels, inner);
        KILN_CHECK(total == 0 || x != nullptr, "x must not be null");
        KILN_CHECK(total == 0 || q != nullptr, "q must not be null");
        KILN_CHECK_PTR(scale);
        KILN_CHECK_PTR(zero_point);
        KILN_CHECK(qmin >= -32768 && qmax <= 65535 && qmin < qmax,
                   "qmin/qmax must satisfy -32768 <= qmin < qmax <= 65535, got qmin=%d qmax=%d", qmin, qmax);
        checkScales(scale, nb_channels);
        if (total == 0) return KILN_OK;
        requireDevice();
        DeviceBuffer<float> dx(x, total), dScale(scale, nb_channels);
        DeviceBuffer<int32_t> dZp(zero_point, nb_channels), dq(total);
        quantizeKernel<<<gridFor(total), kThreads>>>(dx.get(), total, nb_channels, inner, dScale.get(), dZp.get(),
                                                     static_cast<float>(qmin), static_cast<float>(qmax), dq.get());
        checkLaunch();
        dq.download(q);
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_dequantize(const int32_t* q, int64_t outer, int64_t nb_channels, int64_t inner,
                                          const float* scale, const int32_t* zero_point, float* y) {
    KILN_CUDA_ENTRY {
        const int64_t total = checkView(outer, nb_channels, inner);
        KILN_CHECK(total == 0 || q != nullptr, "q must not be null");
        KILN_CHECK(total == 0 || y != nullptr, "y must not be null");
        KILN_CHECK_PTR(scale);
        KILN_CHECK_PTR(zero_point);
        checkScales(scale, nb_channels);
        if (total == 0) return KILN_OK;
        requireDevice();
        DeviceBuffer<int32_t> dq(q, total), dZp(zero_point, nb_channels);
        DeviceBuffer<float> dScale(scale, nb_channels), dy(total);
        dequantizeKernel<<<gridFor(total), kThreads>>>(dq.get(), total, nb_channels, inner, dScale.get(), dZp.get(),
                                                       dy.get());
        checkLaunch();
        dy.download(y);
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_fake_quant(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                          const float* min, const float* max, int32_t num_bits, int32_t narrow_range,
                                          float* y) {
    KILN_CUDA_ENTRY {
        const int64_t total = checkView(outer, nb_channels, inner);
        KILN_CHECK(total == 0 || x != nullptr, "x must not be null");
        KILN_CHECK(total == 0 || y != nullptr, "y must not be null");
        KILN_CHECK_PTR(min);
        KILN_CHECK_PTR(max);
        KILN_CHECK(num_bits >= 2 && num_bits <= 16, "num_bits must be in 2..16, got %d", num_bits);
        KILN_CHECK(narrow_range == 0 || narrow_range == 1, "narrow_range must be 0 or 1, got %d", narrow_range);
        std::vector<FqParams> params(static_cast<size_t>(nb_channels));
        for (int64_t c = 0; c < nb_channels; ++c) {
            KILN_CHECK(std::isfinite(min[c]) && std::isfinite(max[c]), "min[%lld] and max[%lld] must be finite",
                       static_cast<long long>(c), static_cast<long long>(c));
            KILN_CHECK(min[c] <= max[c], "min[%lld]=%g > max[%lld]=%g", static_cast<long long>(c),
                       static_cast<double>(min[c]), static_cast<long long>(c), static_cast<double>(max[c]));
            params[c] = nudge(min[c], max[c], num_bits, narrow_range != 0);
        }
        if (total == 0) return KILN_OK;
        requireDevice();
        DeviceBuffer<float> dx(x, total), dy(total);
        DeviceBuffer<FqParams> dParams(params.data(), nb_channels);
        fakeQuantKernel<<<gridFor(total), kThreads>>>(dx.get(), total, nb_channels, inner, dParams.get(),
                                                      nb_channels == 1 ? 1 : 0, dy.get());
        checkLaunch();
        dy.download(y);
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_f32_to_f16(const float* x, int64_t nb, uint16_t* h) {
    KILN_CUDA_ENTRY {
        KILN_CHECK_COUNT(nb);
        KILN_CHECK(nb == 0 || x != nullptr, "x must not be null");
        KILN_CHECK(nb == 0 || h != nullptr, "h must not be null");
        if (nb == 0) return KILN_OK;
        requireDevice();
        DeviceBuffer<float> dx(x, nb);
        DeviceBuffer<uint16_t> dh(nb);
        toHalfKernel<<<gridFor(nb), kThreads>>>(dx.get(), nb, dh.get());
        checkLaunch();
        dh.download(h);
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_f16_to_f32(const uint16_t* h, int64_t nb, float* x) {
    KILN_CUDA_ENTRY {
        KILN_CHECK_COUNT(nb);
        KILN_CHECK(nb == 0 || h != nullptr, "h must not be null");
        KILN_CHECK(nb == 0 || x != nullptr, "x must not be null");
        if (nb == 0) return KILN_OK;
        requireDevice();
        DeviceBuffer<uint16_t> dh(h, nb);
        DeviceBuffer<float> dx(nb);
        fromHalfKernel<<<gridFor(nb), kThreads>>>(dh.get(), nb, dx.get());
        checkLaunch();
        dx.download(x);
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_mask_n_m(const float* w, int64_t outer, int64_t len, int64_t inner, int32_t n,
                                        int32_t m, uint8_t* mask) {
    KILN_CUDA_ENTRY {
        const int64_t total = checkNm(w, outer, len, inner, n, m);
        KILN_CHECK(total == 0 || mask != nullptr, "mask must not be null");
        if (total == 0) return KILN_OK;
        requireDevice();
        const int64_t nbGroups = len / m, nbGroupsTotal = outer * nbGroups * inner;
        DeviceBuffer<float> dw(w, total);
        DeviceBuffer<uint8_t> dMask(total);
        maskNmKernel<<<gridFor(nbGroupsTotal), kThreads>>>(dw.get(), nbGroupsTotal, nbGroups, len, inner, n, m,
                                                           dMask.get());
        checkLaunch();
        dMask.download(mask);
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_check_n_m(const float* w, int64_t outer, int64_t len, int64_t inner, int32_t n,
                                         int32_t m, int64_t* nb_bad, int64_t* first_bad, int64_t max_report) {
    KILN_CUDA_ENTRY {
        const int64_t total = checkNm(w, outer, len, inner, n, m);
        KILN_CHECK_PTR(nb_bad);
        KILN_CHECK_COUNT(max_report);
        KILN_CHECK(max_report == 0 || first_bad != nullptr, "first_bad must not be null when max_report > 0");
        *nb_bad = 0;
        if (total == 0) return KILN_OK;
        requireDevice();
        const int64_t nbGroups = len / m, nbGroupsTotal = outer * nbGroups * inner;
        DeviceBuffer<float> dw(w, total);
        DeviceBuffer<uint8_t> dBad(nbGroupsTotal);
        checkNmKernel<<<gridFor(nbGroupsTotal), kThreads>>>(dw.get(), nbGroupsTotal, nbGroups, len, inner, n, m,
                                                            dBad.get());
        checkLaunch();
        std::vector<uint8_t> bad(static_cast<size_t>(nbGroupsTotal));
        dBad.download(bad.data());
        int64_t count = 0;
        for (int64_t t = 0; t < nbGroupsTotal; ++t) {  // t runs over (o, g, i): flat indices increase with t
            if (!bad[t]) continue;
            if (count < max_report) {
                const int64_t i = t % inner, g = (t / inner) % nbGroups, o = t / (inner * nbGroups);
                first_bad[count] = o * len * inner + g * m * inner + i;
            }
            ++count;
        }
        *nb_bad = count;
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_pack_2_4(const float* w, int64_t rows, int64_t cols, float* values, uint8_t* meta) {
    KILN_CUDA_ENTRY {
        const int64_t total = check24(rows, cols);
        KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
        KILN_CHECK(total == 0 || values != nullptr, "values must not be null");
        KILN_CHECK(total == 0 || meta != nullptr, "meta must not be null");
        if (total == 0) return KILN_OK;
        requireDevice();
        const int64_t nbGroups = cols / 4, nbGroupsTotal = rows * nbGroups, metaCols = (cols + 7) / 8;
        DeviceBuffer<float> dw(w, total), dValues(total / 2);
        DeviceBuffer<uint8_t> dNibbles(nbGroupsTotal), dMeta(rows * metaCols);
        const unsigned long long none = ~0ull;
        unsigned long long firstBad = none;
        DeviceBuffer<unsigned long long> dBad(&none, 1);
        pack24Kernel<<<gridFor(nbGroupsTotal), kThreads>>>(dw.get(), nbGroupsTotal, dValues.get(), dNibbles.get(),
                                                           dBad.get());
        checkLaunch();
        dBad.download(&firstBad);
        if (firstBad != none) {
            const int64_t r = static_cast<int64_t>(firstBad) / nbGroups, g = static_cast<int64_t>(firstBad) % nbGroups;
            KILN_CHECK(false, "w is not 2:4: row %lld, group %lld (columns %lld..%lld) has more than 2 non-zeros",
                       static_cast<long long>(r), static_cast<long long>(g), static_cast<long long>(4 * g),
                       static_cast<long long>(4 * g + 3));
        }
        combineMetaKernel<<<gridFor(rows * metaCols), kThreads>>>(dNibbles.get(), rows, nbGroups, metaCols,
                                                                  dMeta.get());
        checkLaunch();
        dValues.download(values);
        dMeta.download(meta);
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

KILN_API kiln_status kiln_cuda_unpack_2_4(const float* values, const uint8_t* meta, int64_t rows, int64_t cols,
                                          float* w) {
    KILN_CUDA_ENTRY {
        const int64_t total = check24(rows, cols);
        KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
        KILN_CHECK(total == 0 || values != nullptr, "values must not be null");
        KILN_CHECK(total == 0 || meta != nullptr, "meta must not be null");
        if (total == 0) return KILN_OK;
        requireDevice();
        const int64_t nbGroups = cols / 4, metaCols = (cols + 7) / 8;
        DeviceBuffer<float> dValues(values, total / 2), dw(total);
        DeviceBuffer<uint8_t> dMeta(meta, rows * metaCols);
        const unsigned long long none = ~0ull;
        unsigned long long firstBad = none;
        DeviceBuffer<unsigned long long> dBad(&none, 1);
        unpack24Kernel<<<gridFor(rows * nbGroups), kThreads>>>(dValues.get(), dMeta.get(), rows, nbGroups, metaCols,
                                                               dw.get(), dBad.get());
        checkLaunch();
        dBad.download(&firstBad);
        if (firstBad != none) {
            const int64_t r = static_cast<int64_t>(firstBad) / nbGroups, g = static_cast<int64_t>(firstBad) % nbGroups;
            KILN_CHECK(false, "meta row %lld group %lld: positions are not increasing", static_cast<long long>(r),
                       static_cast<long long>(g));
        }
        dw.download(w);
        return KILN_OK;
    }
    KILN_CUDA_EXIT
}

// ---- selection and variable-length packing: the host step, with the CPU code (identical by construction) ----

KILN_API kiln_status kiln_cuda_mask_magnitude(const float* w, int64_t nb, int64_t nb_keep, uint8_t* mask) {
    return kiln_mask_magnitude(w, nb, nb_keep, mask);
}
KILN_API kiln_status kiln_cuda_mask_block(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                          int64_t nb_keep, uint8_t* mask) {
    return kiln_mask_block(w, rows, cols, br, bc, nb_keep, mask);
}
KILN_API kiln_status kiln_cuda_csr_count(const float* w, int64_t rows, int64_t cols, int64_t* nnz) {
    return kiln_csr_count(w, rows, cols, nnz);
}
KILN_API kiln_status kiln_cuda_csr_pack(const float* w, int64_t rows, int64_t cols, int64_t* row_ptr,
                                        int32_t* col_idx, float* values, int64_t nnz) {
    return kiln_csr_pack(w, rows, cols, row_ptr, col_idx, values, nnz);
}
KILN_API kiln_status kiln_cuda_csr_unpack(const int64_t* row_ptr, const int32_t* col_idx, const float* values,
                                          int64_t rows, int64_t cols, float* w) {
    return kiln_csr_unpack(row_ptr, col_idx, values, rows, cols, w);
}
KILN_API kiln_status kiln_cuda_bsr_count(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                         int64_t* nb_blocks) {
    return kiln_bsr_count(w, rows, cols, br, bc, nb_blocks);
}
KILN_API kiln_status kiln_cuda_bsr_pack(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                        int64_t* block_row_ptr, int32_t* block_col, float* values, int64_t nb_blocks) {
    return kiln_bsr_pack(w, rows, cols, br, bc, block_row_ptr, block_col, values, nb_blocks);
}
KILN_API kiln_status kiln_cuda_bsr_unpack(const int64_t* block_row_ptr, const int32_t* block_col, const float* values,
                                          int64_t rows, int64_t cols, int32_t br, int32_t bc, float* w) {
    return kiln_bsr_unpack(block_row_ptr, block_col, values, rows, cols, br, bc, w);
}

}  // extern "C"
