// Quantization: QuantizeLinear, DequantizeLinear, TensorFlow's FakeQuantWithMinMaxVars(PerChannel), float16.
// Every float operation is a separate IEEE float32 operation: this file must be compiled with -ffp-contract=off
// and without -ffast-math; the SIMD paths use explicit mul/add intrinsics (never FMA), so they are bit-identical to
// the scalar path and to Java.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <algorithm>
#include <limits>
#include <vector>

#include "fakeQuantParams.h"
#include "kilnCommon.h"
#include "kilnThreads.h"

namespace kiln {
namespace cpu {
namespace {

// ---- fake quantization ----
// TensorFlow 2.x's fake_quant_ops_functor.h: FakeQuantWithMinMaxVars divides by the scale (kDivide),
// FakeQuantWithMinMaxVarsPerChannel multiplies by inv_scale (kMultiply).

using kiln::FqParams;
using kiln::nudge;

enum class FqMode { kDivide, kMultiply };

template <FqMode kMode>
inline float fqScalar(float x, float nmin, float nmax, float scale, float inv, float qz) {
    float c = nmax < x ? nmax : x;  // x > nmax ? nmax : x   (NaN stays NaN; as minps(nmax, x))
    c = nmin > c ? nmin : c;        // c < nmin ? nmin : c   (as maxps(nmin, c))
    const float d = c - nmin;
    const float t = kMode == FqMode::kDivide ? d / scale : d * inv;
    return std::floor((t - qz) + 0.5f) * scale;
}

template <FqMode kMode>
void fqRunScalar(const float* x, float* y, int64_t n, const FqParams& p) {
    for (int64_t i = 0; i < n; ++i) {
        y[i] = fqScalar<kMode>(x[i], p.mNudgedMin, p.mNudgedMax, p.mScale, p.mInvScale, p.mQuantZero);
    }
}

// Per-element parameters (the channel axis is the last one): element c uses channel c's parameters.
void fqRowScalar(const float* x, float* y, int64_t n, const float* nmin, const float* nmax, const float* scale,
                 const float* inv, const float* qz) {
    for (int64_t i = 0; i < n; ++i) {
        y[i] = fqScalar<FqMode::kMultiply>(x[i], nmin[i], nmax[i], scale[i], inv[i], qz[i]);
    }
}

// Non-temporal stores pay off once the output no longer fits in the caches.
constexpr int64_t kStreamThreshold = int64_t{4} << 20;  // elements (16 MiB)

template <FqMode kMode>
__attribute__((target("avx2"))) inline __m256 fqAvx2(__m256 v, __m256 nmin, __m256 nmax, __m256 scale, __m256 inv,
                                                      __m256 qz, __m256 half) {
    __m256 c = _mm256_max_ps(nmin, _mm256_min_ps(nmax, v));
    __m256 d = _mm256_sub_ps(c, nmin);
    __m256 t = kMode == FqMode::kDivide ? _mm256_div_ps(d, scale) : _mm256_mul_ps(d, inv);
    t = _mm256_add_ps(_mm256_sub_ps(t, qz), half);
    t = _mm256_round_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    return _mm256_mul_ps(t, scale);
}

template <FqMode kMode>
__attribute__((target("avx2"))) void fqRunAvx2(const float* x, float* y, int64_t n, const FqParams& p, bool stream) {
    const __m256 nmin = _mm256_set1_ps(p.mNudgedMin), nmax = _mm256_set1_ps(p.mNudgedMax);
    const __m256 scale = _mm256_set1_ps(p.mScale), inv = _mm256_set1_ps(p.mInvScale);
    const __m256 qz = _mm256_set1_ps(p.mQuantZero), half = _mm256_set1_ps(0.5f);
    int64_t i = 0;
    if (stream) {
        while (i < n && (reinterpret_cast<uintptr_t>(y + i) & 31) != 0) {
            y[i] = fqScalar<kMode>(x[i], p.mNudgedMin, p.mNudgedMax, p.mScale, p.mInvScale, p.mQuantZero);
            ++i;
        }
        for (; i + 16 <= n; i += 16) {
            __m256 a = fqAvx2<kMode>(_mm256_loadu_ps(x + i), nmin, nmax, scale, inv, qz, half);
            __m256 b = fqAvx2<kMode>(_mm256_loadu_ps(x + i + 8), nmin, nmax, scale, inv, qz, half);
            _mm256_stream_ps(y + i, a);
            _mm256_stream_ps(y + i + 8, b);
        }
        _mm_sfence();
    }
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i, fqAvx2<kMode>(_mm256_loadu_ps(x + i), nmin, nmax, scale, inv, qz, half));
    }
    fqRunScalar<kMode>(x + i, y + i, n - i, p);
}

__attribute__((target("avx2"))) void fqRowAvx2(const float* x, float* y, int64_t n, const float* nmin,
                                               const float* nmax, const float* scale, const float* inv,
                                               const float* qz) {
    const __m256 half = _mm256_set1_ps(0.5f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i, fqAvx2<FqMode::kMultiply>(_mm256_loadu_ps(x + i), _mm256_loadu_ps(nmin + i),
                                                          _mm256_loadu_ps(nmax + i), _mm256_loadu_ps(scale + i),
                                                          _mm256_loadu_ps(inv + i), _mm256_loadu_ps(qz + i), half));
    }
    fqRowScalar(x + i, y + i, n - i, nmin + i, nmax + i, scale + i, inv + i, qz + i);
}

// The whole [outer, C] tensor (channel axis last) as one flat run with non-temporal stores: the channel of flat
// index i is i % C; a vector that crosses a row end gathers its parameters through a small buffer.
struct FqChannelParams {
    const float* mNudgedMin;
    const float* mNudgedMax;
    const float* mScale;
    const float* mInvScale;
    const float* mQuantZero;
};

inline float fqChannelScalar(float x, const FqChannelParams& p, int64_t c) {
    return fqScalar<FqMode::kMultiply>(x, p.mNudgedMin[c], p.mNudgedMax[c], p.mScale[c], p.mInvScale[c],
                                       p.mQuantZero[c]);
}

template <int kWidth>
inline const float* wrapped(const float* src, int64_t c, int64_t nbChannels, float* buf) {
    if (c + kWidth <= nbChannels) return src + c;
    for (int k = 0; k < kWidth; ++k) buf[k] = src[(c + k) % nbChannels];
    return buf;
}

// Last axis, few channels: the channels' parameters repeated over one period of P = lcm(C, 32) elements, rotated so
// that table entry j holds the parameters of flat index start + j (start = the first index of the vector loop, where
// y is aligned). The loop then reads the parameters with aligned loads at k = 0, 32, 64, ... < P (two vectors of 16
// or four of 8 per step), never wrapping inside a step. Built once per call (5 * P floats, at most 80 KiB).
constexpr int64_t kTableMaxPeriod = 4096;

int64_t channelPeriod(int64_t nbChannels) {
    int64_t a = nbChannels, b = 32;
    while (b != 0) {
        const int64_t t = a % b;
        a = b;
        b = t;
    }
    return nbChannels / a * 32;  // lcm(C, 32); C >= 1
}

class FqChannelTable {
public:
    FqChannelTable(const FqChannelParams& p, int64_t nbChannels, int64_t period, int64_t start)
        : mPeriod(period), mStorage(static_cast<size_t>(5 * period + 16)) {
        float* base = mStorage.data();
        base += (16 - (reinterpret_cast<uintptr_t>(base) & 63) / 4) & 15;  // 64-byte aligned
        const float* src[5] = {p.mNudgedMin, p.mNudgedMax, p.mScale, p.mInvScale, p.mQuantZero};
        for (int a = 0; a < 5; ++a) {
            mRow[a] = base + a * period;
            int64_t c = start % nbChannels;
            for (int64_t j = 0; j < period; ++j) {
                mRow[a][j] = src[a][c];
                if (++c == nbChannels) c = 0;
            }
        }
    }
    int64_t period() const { return mPeriod; }
    const float* nmin() const { return mRow[0]; }
    const float* nmax() const { return mRow[1]; }
    const float* scale() const { return mRow[2]; }
    const float* inv() const { return mRow[3]; }
    const float* qz() const { return mRow[4]; }

private:
    int64_t mPeriod;
    std::vector<float> mStorage;
    float* mRow[5] = {};
};

// Elements before y + start is aligned to `align` bytes (y is float aligned, as Java arrays and malloc give).
inline int64_t alignedStart(const float* y, int64_t n, uintptr_t align) {
    const uintptr_t mis = reinterpret_cast<uintptr_t>(y) & (align - 1);
    if (mis == 0) return 0;
    if ((mis & 3) != 0) return n;  // never aligned: everything scalar (not reached for float arrays)
    return std::min<int64_t>(n, static_cast<int64_t>((align - mis) / 4));
}

__attribute__((target("avx2"))) void fqTableChannelsAvx2(const float* x, float* y, int64_t n, int64_t nbChannels,
                                                         const FqChannelParams& p, int64_t period) {
    const __m256 half = _mm256_set1_ps(0.5f);
    int64_t i = 0;
    const int64_t start = alignedStart(y, n, 32);
    for (; i < start; ++i) y[i] = fqChannelScalar(x[i], p, i % nbChannels);
    const FqChannelTable t(p, nbChannels, period, start);
    const float *tmin = t.nmin(), *tmax = t.nmax(), *tsc = t.scale(), *tinv = t.inv(), *tqz = t.qz();
    int64_t k = 0;
    for (; i + 32 <= n; i += 32) {
        for (int u = 0; u < 32; u += 8) {
            const int64_t j = k + u;
            __m256 v = fqAvx2<FqMode::kMultiply>(_mm256_loadu_ps(x + i + u), _mm256_load_ps(tmin + j),
                                                 _mm256_load_ps(tmax + j), _mm256_load_ps(tsc + j),
                                                 _mm256_load_ps(tinv + j), _mm256_load_ps(tqz + j), half);
            _mm256_stream_ps(y + i + u, v);
        }
        k += 32;
        if (k == period) k = 0;
    }
    _mm_sfence();
    for (; i < n; ++i) y[i] = fqChannelScalar(x[i], p, i % nbChannels);
}

__attribute__((target("avx2"))) void fqFlatChannelsAvx2(const float* x, float* y, int64_t n, int64_t nbChannels,
                                                        const FqChannelParams& p) {
    const __m256 half = _mm256_set1_ps(0.5f);
    alignas(32) float b0[8], b1[8], b2[8], b3[8], b4[8];
    int64_t i = 0;
    while (i < n && (reinterpret_cast<uintptr_t>(y + i) & 31) != 0) {
        y[i] = fqChannelScalar(x[i], p, i % nbChannels);
        ++i;
    }
    int64_t c = nbChannels > 0 ? i % nbChannels : 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = fqAvx2<FqMode::kMultiply>(
            _mm256_loadu_ps(x + i), _mm256_loadu_ps(wrapped<8>(p.mNudgedMin, c, nbChannels, b0)),
            _mm256_loadu_ps(wrapped<8>(p.mNudgedMax, c, nbChannels, b1)),
            _mm256_loadu_ps(wrapped<8>(p.mScale, c, nbChannels, b2)),
            _mm256_loadu_ps(wrapped<8>(p.mInvScale, c, nbChannels, b3)),
            _mm256_loadu_ps(wrapped<8>(p.mQuantZero, c, nbChannels, b4)), half);
        _mm256_stream_ps(y + i, v);
        c += 8;
        while (c >= nbChannels) c -= nbChannels;
    }
    _mm_sfence();
    for (; i < n; ++i) y[i] = fqChannelScalar(x[i], p, i % nbChannels);
}

#define KILN_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

template <FqMode kMode>
KILN_AVX512 inline __m512 fqAvx512(__m512 v, __m512 nmin, __m512 nmax, __m512 scale, __m512 inv, __m512 qz,
                                   __m512 half) {
    __m512 c = _mm512_max_ps(nmin, _mm512_min_ps(nmax, v));
    __m512 d = _mm512_sub_ps(c, nmin);
    __m512 t = kMode == FqMode::kDivide ? _mm512_div_ps(d, scale) : _mm512_mul_ps(d, inv);
    t = _mm512_add_ps(_mm512_sub_ps(t, qz), half);
    t = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    return _mm512_mul_ps(t, scale);
}

template <FqMode kMode>
KILN_AVX512 void fqRunAvx512(const float* x, float* y, int64_t n, const FqParams& p, bool stream) {
    const __m512 nmin = _mm512_set1_ps(p.mNudgedMin), nmax = _mm512_set1_ps(p.mNudgedMax);
    const __m512 scale = _mm512_set1_ps(p.mScale), inv = _mm512_set1_ps(p.mInvScale);
    const __m512 qz = _mm512_set1_ps(p.mQuantZero), half = _mm512_set1_ps(0.5f);
    int64_t i = 0;
    if (stream) {
        while (i < n && (reinterpret_cast<uintptr_t>(y + i) & 63) != 0) {
            y[i] = fqScalar<kMode>(x[i], p.mNudgedMin, p.mNudgedMax, p.mScale, p.mInvScale, p.mQuantZero);
            ++i;
        }
        for (; i + 32 <= n; i += 32) {
            __m512 a = fqAvx512<kMode>(_mm512_loadu_ps(x + i), nmin, nmax, scale, inv, qz, half);
            __m512 b = fqAvx512<kMode>(_mm512_loadu_ps(x + i + 16), nmin, nmax, scale, inv, qz, half);
            _mm512_stream_ps(y + i, a);
            _mm512_stream_ps(y + i + 16, b);
        }
        _mm_sfence();
    }
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(y + i, fqAvx512<kMode>(_mm512_loadu_ps(x + i), nmin, nmax, scale, inv, qz, half));
    }
    fqRunScalar<kMode>(x + i, y + i, n - i, p);
}

KILN_AVX512 void fqRowAvx512(const float* x, float* y, int64_t n, const float* nmin, const float* nmax,
                             const float* scale, const float* inv, const float* qz) {
    const __m512 half = _mm512_set1_ps(0.5f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(y + i, fqAvx512<FqMode::kMultiply>(_mm512_loadu_ps(x + i), _mm512_loadu_ps(nmin + i),
                                                            _mm512_loadu_ps(nmax + i), _mm512_loadu_ps(scale + i),
                                                            _mm512_loadu_ps(inv + i), _mm512_loadu_ps(qz + i), half));
    }
    fqRowScalar(x + i, y + i, n - i, nmin + i, nmax + i, scale + i, inv + i, qz + i);
}

KILN_AVX512 void fqFlatChannelsAvx512(const float* x, float* y, int64_t n, int64_t nbChannels,
                                      const FqChannelParams& p) {
    const __m512 half = _mm512_set1_ps(0.5f);
    alignas(64) float b0[16], b1[16], b2[16], b3[16], b4[16];
    int64_t i = 0;
    while (i < n && (reinterpret_cast<uintptr_t>(y + i) & 63) != 0) {
        y[i] = fqChannelScalar(x[i], p, i % nbChannels);
        ++i;
    }
    int64_t c = nbChannels > 0 ? i % nbChannels : 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = fqAvx512<FqMode::kMultiply>(
            _mm512_loadu_ps(x + i), _mm512_loadu_ps(wrapped<16>(p.mNudgedMin, c, nbChannels, b0)),
            _mm512_loadu_ps(wrapped<16>(p.mNudgedMax, c, nbChannels, b1)),
            _mm512_loadu_ps(wrapped<16>(p.mScale, c, nbChannels, b2)),
            _mm512_loadu_ps(wrapped<16>(p.mInvScale, c, nbChannels, b3)),
            _mm512_loadu_ps(wrapped<16>(p.mQuantZero, c, nbChannels, b4)), half);
        _mm512_stream_ps(y + i, v);
        c += 16;
        while (c >= nbChannels) c -= nbChannels;
    }
    _mm_sfence();
    for (; i < n; ++i) y[i] = fqChannelScalar(x[i], p, i % nbChannels);
}

KILN_AVX512 void fqTableChannelsAvx512(const float* x, float* y, int64_t n, int64_t nbChannels,
                                       const FqChannelParams& p, int64_t period) {
    const __m512 half = _mm512_set1_ps(0.5f);
    int64_t i = 0;
    const int64_t start = alignedStart(y, n, 64);
    for (; i < start; ++i) y[i] = fqChannelScalar(x[i], p, i % nbChannels);
    const FqChannelTable t(p, nbChannels, period, start);
    const float *tmin = t.nmin(), *tmax = t.nmax(), *tsc = t.scale(), *tinv = t.inv(), *tqz = t.qz();
    int64_t k = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = fqAvx512<FqMode::kMultiply>(_mm512_loadu_ps(x + i), _mm512_load_ps(tmin + k),
                                               _mm512_load_ps(tmax + k), _mm512_load_ps(tsc + k),
                                               _mm512_load_ps(tinv + k), _mm512_load_ps(tqz + k), half);
        __m512 b = fqAvx512<FqMode::kMultiply>(_mm512_loadu_ps(x + i + 16), _mm512_load_ps(tmin + k + 16),
                                               _mm512_load_ps(tmax + k + 16), _mm512_load_ps(tsc + k + 16),
                                               _mm512_load_ps(tinv + k + 16), _mm512_load_ps(tqz + k + 16), half);
        _mm512_stream_ps(y + i, a);
        _mm512_stream_ps(y + i + 16, b);
        k += 32;
        if (k == period) k = 0;
    }
    _mm_sfence();
    for (; i < n; ++i) y[i] = fqChannelScalar(x[i], p, i % nbChannels);
}

// stream: write with non-temporal stores (decided by the caller from the size of the whole output, so that a
// worker's part of a large array streams as the whole array would).
template <FqMode kMode>
void fqRun(Isa which, const float* x, float* y, int64_t n, const FqParams& p, bool stream) {
    if (p.mZero) {
        std::fill(y, y + n, 0.0f);
        return;
    }
    switch (which) {
        case Isa::kAvx512:
            fqRunAvx512<kMode>(x, y, n, p, stream);
            break;
        case Isa::kAvx2:
            fqRunAvx2<kMode>(x, y, n, p, stream);
            break;
        default:
            fqRunScalar<kMode>(x, y, n, p);
            break;
    }
}

void fqRow(Isa which, const float* x, float* y, int64_t n, const float* nmin, const float* nmax, const float* scale,
           const float* inv, const float* qz) {
    switch (which) {
        case Isa::kAvx512:
            fqRowAvx512(x, y, n, nmin, nmax, scale, inv, qz);
            break;
        case Isa::kAvx2:
            fqRowAvx2(x, y, n, nmin, nmax, scale, inv, qz);
            break;
        default:
            fqRowScalar(x, y, n, nmin, nmax, scale, inv, qz);
            break;
    }
}

// ---- quantize ----

struct QParams {
    float mScale;
    float mZeroPoint;
    float mQmin;
    float mQmax;
    int32_t mZeroPointI;
};

inline int32_t quantScalar(float x, float scale, float zp, float qmin, float qmax, int32_t zpi) {
    if (std::isnan(x)) return zpi;
    float t = std::rint(x / scale) + zp;
    t = t < qmin ? qmin : t;
    t = t > qmax ? qmax : t;
    return static_cast<int32_t>(t);
}

void quantRunScalar(const float* x, int32_t* q, int64_t n, const QParams& p) {
    for (int64_t i = 0; i < n; ++i) q[i] = quantScalar(x[i], p.mScale, p.mZeroPoint, p.mQmin, p.mQmax, p.mZeroPointI);
}

__attribute__((target("avx2"))) void quantRunAvx2(const float* x, int32_t* q, int64_t n, const QParams& p) {
    const __m256 scale = _mm256_set1_ps(p.mScale), zp = _mm256_set1_ps(p.mZeroPoint);
    const __m256 qmin = _mm256_set1_ps(p.mQmin), qmax = _mm256_set1_ps(p.mQmax);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 t = _mm256_add_ps(_mm256_round_ps(_mm256_div_ps(v, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                                 zp);
        t = _mm256_min_ps(_mm256_max_ps(t, qmin), qmax);
        t = _mm256_blendv_ps(t, zp, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), _mm256_cvttps_epi32(t));
    }
    quantRunScalar(x + i, q + i, n - i, p);
}

KILN_AVX512 void quantRunAvx512(const float* x, int32_t* q, int64_t n, const QParams& p) {
    const __m512 scale = _mm512_set1_ps(p.mScale), zp = _mm512_set1_ps(p.mZeroPoint);
    const __m512 qmin = _mm512_set1_ps(p.mQmin), qmax = _mm512_set1_ps(p.mQmax);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 t = _mm512_add_ps(
            _mm512_roundscale_ps(_mm512_div_ps(v, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
        t = _mm512_min_ps(_mm512_max_ps(t, qmin), qmax);
        t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), t, zp);
        _mm512_storeu_si512(q + i, _mm512_cvttps_epi32(t));
    }
    quantRunScalar(x + i, q + i, n - i, p);
}

void quantRun(Isa which, const float* x, int32_t* q, int64_t n, const QParams& p) {
    switch (which) {
        case Isa::kAvx512:
            quantRunAvx512(x, q, n, p);
            break;
        case Isa::kAvx2:
            quantRunAvx2(x, q, n, p);
            break;
        default:
            quantRunScalar(x, q, n, p);
            break;
    }
}

// ---- float16 ----

inline uint32_t bitsOf(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

inline float floatOf(uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}

inline uint16_t toHalf(float f) {
    const uint32_t b = bitsOf(f);
    const uint16_t sign = static_cast<uint16_t>((b >> 16) & 0x8000u);
    const uint32_t a = b & 0x7fffffffu;
    if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN
    if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to Inf (and Inf)
    if (a >= 0x38800000u) {                                               // normal half
        const uint32_t r = a - 0x38000000u;
        return static_cast<uint16_t>(sign | ((r + 0x0fffu + ((r >> 13) & 1u)) >> 13));
    }
    // subnormal half or zero: count units of 2^-24, round half to even (exact scaling by a power of two)
    const float units = floatOf(a) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::rint(units)));
}

inline float fromHalf(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 0x1fu;
    const uint32_t m = h & 0x3ffu;
    if (e == 31) return floatOf(m == 0 ? (sign | 0x7f800000u) : (sign | 0x7fc00000u | (m << 13)));
    if (e == 0) return floatOf(bitsOf(static_cast<float>(m) * 5.9604644775390625e-8f) | sign);
    return floatOf(sign | ((e + 112) << 23) | (m << 13));
}

struct View {
    int64_t mOuter;
    int64_t mChannels;
    int64_t mInner;
    int64_t mTotal;
};

View checkView(int64_t outer, int64_t nbChannels, int64_t inner) {
    KILN_CHECK_COUNT(outer);
    KILN_CHECK(nbChannels >= 1, "nb_channels must be >= 1, got %lld", static_cast<long long>(nbChannels));
    KILN_CHECK_COUNT(inner);
    int64_t total = checkedProduct(checkedProduct(outer, nbChannels, "outer * nb_channels"), inner, "tensor size");
    return View{outer, nbChannels, inner, total};
}

}  // namespace
}  // namespace cpu
}  // namespace kiln

using namespace kiln;
using namespace kiln::cpu;

extern "C" {

KILN_API kiln_status kiln_quantize(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                   const float* scale, const int32_t* zero_point, int32_t qmin, int32_t qmax,
                                   int32_t* q) {
    KILN_ENTRY {
        View v = checkView(outer, nb_channels, inner);
        KILN_CHECK(v.mTotal == 0 || x != nullptr, "x must not be null");
        KILN_CHECK(v.mTotal == 0 || q != nullptr, "q must not be null");
        KILN_CHECK_PTR(scale);
        KILN_CHECK_PTR(zero_point);
        KILN_CHECK(qmin >= -32768 && qmax <= 65535 && qmin < qmax,
                   "qmin/qmax must satisfy -32768 <= qmin < qmax <= 65535, got qmin=%d qmax=%d", qmin, qmax);
        for (int64_t c = 0; c < nb_channels; ++c) {
            KILN_CHECK(std::isfinite(scale[c]) && scale[c] > 0.0f, "scale[%lld] must be finite and > 0, got %g",
                       static_cast<long long>(c), static_cast<double>(scale[c]));
        }
        const Isa which = isa();
        const float qminF = static_cast<float>(qmin), qmaxF = static_cast<float>(qmax);
        if (nb_channels == 1 || inner > 1) {
            for (int64_t o = 0; o < outer; ++o) {
                for (int64_t c = 0; c < nb_channels; ++c) {
                    QParams p{scale[c], static_cast<float>(zero_point[c]), qminF, qmaxF, zero_point[c]};
                    int64_t off = (o * nb_channels + c) * inner;
                    quantRun(which, x + off, q + off, inner, p);
                }
            }
        } else {
            for (int64_t o = 0; o < outer; ++o) {
                const float* xr = x + o * nb_channels;
                int32_t* qr = q + o * nb_channels;
                for (int64_t c = 0; c < nb_channels; ++c) {
                    qr[c] = quantScalar(xr[c], scale[c], static_cast<float>(zero_point[c]), qminF, qmaxF,
                                        zero_point[c]);
                }
            }
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_dequantize(const int32_t* q, int64_t outer, int64_t nb_channels, int64_t inner,
                                     const float* scale, const int32_t* zero_point, float* y) {
    KILN_ENTRY {
        View v = checkView(outer, nb_channels, inner);
        KILN_CHECK(v.mTotal == 0 || q != nullptr, "q must not be null");
        KILN_CHECK(v.mTotal == 0 || y != nullptr, "y must not be null");
        KILN_CHECK_PTR(scale);
        KILN_CHECK_PTR(zero_point);
        for (int64_t c = 0; c < nb_channels; ++c) {
            KILN_CHECK(std::isfinite(scale[c]) && scale[c] > 0.0f, "scale[%lld] must be finite and > 0, got %g",
                       static_cast<long long>(c), static_cast<double>(scale[c]));
        }
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t c = 0; c < nb_channels; ++c) {
                const int64_t off = (o * nb_channels + c) * inner;
                const double zp = zero_point[c];
                const float s = scale[c];
                for (int64_t i = 0; i < inner; ++i) {
                    y[off + i] = static_cast<float>(static_cast<double>(q[off + i]) - zp) * s;
                }
            }
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_fake_quant(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                     const float* min, const float* max, int32_t num_bits, int32_t narrow_range,
                                     float* y) {
    KILN_ENTRY {
        View v = checkView(outer, nb_channels, inner);
        KILN_CHECK(v.mTotal == 0 || x != nullptr, "x must not be null");
        KILN_CHECK(v.mTotal == 0 || y != nullptr, "y must not be null");
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
        // Elementwise, so any split gives the same bits; workers take fixed chunks (see kilnThreads.h).
        const Isa which = isa();
        const int64_t total = v.mTotal;
        const bool stream = total >= kStreamThreshold;
        if (nb_channels == 1) {
            const int nbWorkers = workersFor(total, chunkCount(total, kChunkElements));
            forWorkerRanges(nbWorkers, total, kChunkElements, [&](int, int64_t begin, int64_t end) {
                fqRun<FqMode::kDivide>(which, x + begin, y + begin, end - begin, params[0], stream);
            });
        } else if (inner == 1) {
            std::vector<float> nmin(nb_channels), nmax(nb_channels), sc(nb_channels), inv(nb_channels),
                qz(nb_channels);
            std::vector<int64_t> zeroChannels;
            for (int64_t c = 0; c < nb_channels; ++c) {
                nmin[c] = params[c].mNudgedMin;
                nmax[c] = params[c].mNudgedMax;
                sc[c] = params[c].mScale;
                inv[c] = params[c].mInvScale;
                qz[c] = params[c].mQuantZero;
                if (params[c].mZero) zeroChannels.push_back(c);
            }
            const FqChannelParams cp{nmin.data(), nmax.data(), sc.data(), inv.data(), qz.data()};
            const int64_t period = channelPeriod(nb_channels);
            // Workers take whole rows (chunks of about kChunkElements elements), so each part starts at channel 0.
            const int64_t rowsPerChunk = std::max<int64_t>(1, kChunkElements / nb_channels);
            const int nbWorkers = workersFor(total, chunkCount(outer, rowsPerChunk));
            forWorkerRanges(nbWorkers, outer, rowsPerChunk, [&](int, int64_t rowBegin, int64_t rowEnd) {
                const float* xr = x + rowBegin * nb_channels;
                float* yr = y + rowBegin * nb_channels;
                const int64_t n = (rowEnd - rowBegin) * nb_channels;
                if (stream && which == Isa::kAvx512 && period <= kTableMaxPeriod) {
                    fqTableChannelsAvx512(xr, yr, n, nb_channels, cp, period);
                } else if (stream && which == Isa::kAvx2 && period <= kTableMaxPeriod) {
                    fqTableChannelsAvx2(xr, yr, n, nb_channels, cp, period);
                } else if (stream && which == Isa::kAvx512) {
                    fqFlatChannelsAvx512(xr, yr, n, nb_channels, cp);
                } else if (stream && which == Isa::kAvx2) {
                    fqFlatChannelsAvx2(xr, yr, n, nb_channels, cp);
                } else {
                    for (int64_t o = 0; o < rowEnd - rowBegin; ++o) {
                        fqRow(which, xr + o * nb_channels, yr + o * nb_channels, nb_channels, nmin.data(),
                              nmax.data(), sc.data(), inv.data(), qz.data());
                    }
                }
                for (int64_t o = 0; o < rowEnd - rowBegin && !zeroChannels.empty(); ++o) {
                    for (int64_t c : zeroChannels) yr[o * nb_channels + c] = 0.0f;
                }
            });
        } else {
            // Runs of `inner` elements share a channel; a worker's element range may start or end inside a run.
            const bool streamRuns = inner >= kStreamThreshold;
            const int nbWorkers = workersFor(total, chunkCount(total, kChunkElements));
            forWorkerRanges(nbWorkers, total, kChunkElements, [&](int, int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end;) {
                    const int64_t run = i / inner;
                    const int64_t runEnd = std::min(end, (run + 1) * inner);
                    fqRun<FqMode::kMultiply>(which, x + i, y + i, runEnd - i, params[run % nb_channels], streamRuns);
                    i = runEnd;
                }
            });
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_f32_to_f16(const float* x, int64_t nb, uint16_t* h) {
    KILN_ENTRY {
        KILN_CHECK_COUNT(nb);
        KILN_CHECK(nb == 0 || x != nullptr, "x must not be null");
        KILN_CHECK(nb == 0 || h != nullptr, "h must not be null");
        for (int64_t i = 0; i < nb; ++i) h[i] = toHalf(x[i]);
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_f16_to_f32(const uint16_t* h, int64_t nb, float* x) {
    KILN_ENTRY {
        KILN_CHECK_COUNT(nb);
        KILN_CHECK(nb == 0 || h != nullptr, "h must not be null");
        KILN_CHECK(nb == 0 || x != nullptr, "x must not be null");
        for (int64_t i = 0; i < nb; ++i) x[i] = fromHalf(h[i]);
        return KILN_OK;
    }
    KILN_EXIT
}

}  // extern "C"
