// Calibration statistics: range statistics, histograms, per-channel absmax.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "kilnCommon.h"
#include "kilnThreads.h"

namespace kiln {
namespace cpu {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Min and max are taken over monotone int32 keys of the float bits, so -0.0f orders below +0.0f exactly as Java's
// Math.min/Math.max do, and the result does not depend on the order of the data.
inline int32_t orderedKey(int32_t bits) { return bits ^ ((bits >> 31) & 0x7fffffff); }
inline float fromOrderedKey(int32_t key) {
    int32_t bits = key ^ ((key >> 31) & 0x7fffffff);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

struct RangeAcc {
    int32_t mMinKey = std::numeric_limits<int32_t>::max();
    int32_t mMaxKey = std::numeric_limits<int32_t>::min();
    int64_t mNan = 0;
    int64_t mPosInf = 0;
    int64_t mNegInf = 0;

    void addScalar(float v) {
        if (std::isnan(v)) {
            ++mNan;
        } else if (v == kInf) {
            ++mPosInf;
        } else if (v == -kInf) {
            ++mNegInf;
        } else {
            int32_t bits;
            std::memcpy(&bits, &v, 4);
            int32_t k = orderedKey(bits);
            mMinKey = k < mMinKey ? k : mMinKey;
            mMaxKey = k > mMaxKey ? k : mMaxKey;
        }
    }
    void countNonFinite(const float* x, int n) {
        for (int i = 0; i < n; ++i) {
            float v = x[i];
            if (std::isnan(v)) {
                ++mNan;
            } else if (v == kInf) {
                ++mPosInf;
            } else if (v == -kInf) {
                ++mNegInf;
            }
        }
    }
    void mergeKeys(int32_t minKey, int32_t maxKey) {
        mMinKey = minKey < mMinKey ? minKey : mMinKey;
        mMaxKey = maxKey > mMaxKey ? maxKey : mMaxKey;
    }
    // Exact (integer keys and counts), so merging partial results in any order gives the one-pass result.
    void merge(const RangeAcc& other) {
        mergeKeys(other.mMinKey, other.mMaxKey);
        mNan += other.mNan;
        mPosInf += other.mPosInf;
        mNegInf += other.mNegInf;
    }
};

void rangeScalar(const float* x, int64_t nb, RangeAcc& acc) {
    for (int64_t i = 0; i < nb; ++i) acc.addScalar(x[i]);
}

__attribute__((target("avx2"))) void rangeAvx2(const float* x, int64_t nb, RangeAcc& acc) {
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff);
    const __m256 inf = _mm256_set1_ps(kInf);
    const __m256i intMax = _mm256_set1_epi32(std::numeric_limits<int32_t>::max());
    const __m256i intMin = _mm256_set1_epi32(std::numeric_limits<int32_t>::min());
    __m256i kmin = intMax, kmax = intMin;
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 fin = _mm256_cmp_ps(_mm256_and_ps(v, absMask), inf, _CMP_LT_OQ);
        if (__builtin_expect(_mm256_movemask_ps(fin) != 0xff, 0)) acc.countNonFinite(x + i, 8);
        __m256i b = _mm256_castps_si256(v);
        __m256i key = _mm256_xor_si256(b, _mm256_and_si256(_mm256_srai_epi32(b, 31), magnitude));
        __m256i finI = _mm256_castps_si256(fin);
        kmin = _mm256_min_epi32(kmin, _mm256_blendv_epi8(intMax, key, finI));
        kmax = _mm256_max_epi32(kmax, _mm256_blendv_epi8(intMin, key, finI));
    }
    alignas(32) int32_t tmin[8], tmax[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(tmin), kmin);
    _mm256_store_si256(reinterpret_cast<__m256i*>(tmax), kmax);
    for (int k = 0; k < 8; ++k) acc.mergeKeys(tmin[k], tmax[k]);
    rangeScalar(x + i, nb - i, acc);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void rangeAvx512(const float* x, int64_t nb,
                                                                               RangeAcc& acc) {
    const __m512 inf = _mm512_set1_ps(kInf);
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    __m512i kmin = _mm512_set1_epi32(std::numeric_limits<int32_t>::max());
    __m512i kmax = _mm512_set1_epi32(std::numeric_limits<int32_t>::min());
    int64_t i = 0;
    for (; i + 16 <= nb; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __mmask16 fin = _mm512_cmp_ps_mask(_mm512_abs_ps(v), inf, _CMP_LT_OQ);
        if (__builtin_expect(fin != 0xffff, 0)) acc.countNonFinite(x + i, 16);
        __m512i b = _mm512_castps_si512(v);
        __m512i key = _mm512_xor_si512(b, _mm512_and_si512(_mm512_srai_epi32(b, 31), magnitude));
        kmin = _mm512_mask_min_epi32(kmin, fin, kmin, key);
        kmax = _mm512_mask_max_epi32(kmax, fin, kmax, key);
    }
    alignas(64) int32_t tmin[16], tmax[16];
    _mm512_store_si512(tmin, kmin);
    _mm512_store_si512(tmax, kmax);
    for (int k = 0; k < 16; ++k) acc.mergeKeys(tmin[k], tmax[k]);
    rangeScalar(x + i, nb - i, acc);
}

void rangeDispatch(Isa which, const float* x, int64_t nb, RangeAcc& acc) {
    switch (which) {
        case Isa::kAvx512:
            rangeAvx512(x, nb, acc);
            break;
        case Isa::kAvx2:
            rangeAvx2(x, nb, acc);
            break;
        default:
            rangeScalar(x, nb, acc);
            break;
    }
}

// ---- histogram ----

// Bins are computed into int32 indices; a non-finite value gets the sentinel nbBins. In signed mode a negative value
// gets nbBins + 1 + bin, so one index space covers counts and negCounts.
struct HistParams {
    float mInvRange;
    float mNbBinsF;
    float mLastBinF;  // nbBins - 1 as float (exact: the vector paths need nbBins <= 2^24)
    int32_t mNbBins;
    bool mSigned;
};

inline int32_t binScalar(float v, const HistParams& p) {
    float a = std::fabs(v);
    if (!(a < kInf)) return p.mNbBins;
    float y = (a * p.mInvRange) * p.mNbBinsF;
    y = y < p.mLastBinF ? y : p.mLastBinF;
    int32_t bin = static_cast<int32_t>(y);
    return (p.mSigned && v < 0.0f) ? bin + p.mNbBins + 1 : bin;
}

// Generic path for huge bin counts (> 2^24), written straight into the int64 counts.
void histogramGeneric(const float* x, int64_t nb, float invRange, int32_t nbBins, bool isSigned, int64_t* counts,
                      int64_t* negCounts) {
    const float nbBinsF = static_cast<float>(nbBins);
    for (int64_t i = 0; i < nb; ++i) {
        float v = x[i];
        float a = std::fabs(v);
        if (!(a < kInf)) continue;
        float y = (a * invRange) * nbBinsF;
        int64_t bin = y >= nbBinsF ? nbBins - 1 : static_cast<int64_t>(y);
        if (bin > nbBins - 1) bin = nbBins - 1;
        if (isSigned && v < 0.0f) {
            ++negCounts[bin];
        } else {
            ++counts[bin];
        }
    }
}

constexpr int kNbSub = 4;

void histScalar(const float* x, int64_t nb, const HistParams& p, uint32_t* const* sub) {
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        ++sub[0][binScalar(x[i], p)];
        ++sub[1][binScalar(x[i + 1], p)];
        ++sub[2][binScalar(x[i + 2], p)];
        ++sub[3][binScalar(x[i + 3], p)];
    }
    for (; i < nb; ++i) ++sub[0][binScalar(x[i], p)];
}

__attribute__((target("avx2"))) inline __m256i binsAvx2(__m256 v, __m256 absMask, __m256 inf, __m256 inv,
                                                         __m256 nbf, __m256 last, __m256i sentinel,
                                                         __m256i negOffset, bool isSigned) {
    __m256 a = _mm256_and_ps(v, absMask);
    __m256 fin = _mm256_cmp_ps(a, inf, _CMP_LT_OQ);
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(a, inv), nbf);
    y = _mm256_min_ps(y, last);
    __m256i bin = _mm256_cvttps_epi32(y);
    if (isSigned) {
        __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        bin = _mm256_add_epi32(bin, _mm256_and_si256(_mm256_castps_si256(neg), negOffset));
    }
    return _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(sentinel), _mm256_castsi256_ps(bin), fin));
}

__attribute__((target("avx2"))) void histAvx2(const float* x, int64_t nb, const HistParams& p,
                                              uint32_t* const* sub) {
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 inf = _mm256_set1_ps(kInf);
    const __m256 inv = _mm256_set1_ps(p.mInvRange);
    const __m256 nbf = _mm256_set1_ps(p.mNbBinsF);
    const __m256 last = _mm256_set1_ps(p.mLastBinF);
    const __m256i sentinel = _mm256_set1_epi32(p.mNbBins);
    const __m256i negOffset = _mm256_set1_epi32(p.mNbBins + 1);
    uint32_t* h0 = sub[0];
    uint32_t* h1 = sub[1];
    uint32_t* h2 = sub[2];
    uint32_t* h3 = sub[3];
    alignas(32) int32_t idx[16];
    int64_t i = 0;
    for (; i + 16 <= nb; i += 16) {
        __m256i b0 = binsAvx2(_mm256_loadu_ps(x + i), absMask, inf, inv, nbf, last, sentinel, negOffset, p.mSigned);
        __m256i b1 =
            binsAvx2(_mm256_loadu_ps(x + i + 8), absMask, inf, inv, nbf, last, sentinel, negOffset, p.mSigned);
        _mm256_store_si256(reinterpret_cast<__m256i*>(idx), b0);
        _mm256_store_si256(reinterpret_cast<__m256i*>(idx + 8), b1);
        for (int k = 0; k < 16; k += 4) {
            ++h0[idx[k]];
            ++h1[idx[k + 1]];
            ++h2[idx[k + 2]];
            ++h3[idx[k + 3]];
        }
    }
    histScalar(x + i, nb - i, p, sub);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void histAvx512(const float* x, int64_t nb,
                                                                              const HistParams& p,
                                                                              uint32_t* const* sub) {
    const __m512 inf = _mm512_set1_ps(kInf);
    const __m512 inv = _mm512_set1_ps(p.mInvRange);
    const __m512 nbf = _mm512_set1_ps(p.mNbBinsF);
    const __m512 last = _mm512_set1_ps(p.mLastBinF);
    const __m512i sentinel = _mm512_set1_epi32(p.mNbBins);
    const __m512i negOffset = _mm512_set1_epi32(p.mNbBins + 1);
    uint32_t* h0 = sub[0];
    uint32_t* h1 = sub[1];
    uint32_t* h2 = sub[2];
    uint32_t* h3 = sub[3];
    alignas(64) int32_t idx[16];
    int64_t i = 0;
    for (; i + 16 <= nb; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 a = _mm512_abs_ps(v);
        __mmask16 fin = _mm512_cmp_ps_mask(a, inf, _CMP_LT_OQ);
        __m512 y = _mm512_min_ps(_mm512_mul_ps(_mm512_mul_ps(a, inv), nbf), last);
        __m512i bin = _mm512_cvttps_epi32(y);
        if (p.mSigned) {
            __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
            bin = _mm512_mask_add_epi32(bin, neg, bin, negOffset);
        }
        bin = _mm512_mask_blend_epi32(fin, sentinel, bin);
        _mm512_store_si512(idx, bin);
        for (int k = 0; k < 16; k += 4) {
            ++h0[idx[k]];
            ++h1[idx[k + 1]];
            ++h2[idx[k + 2]];
            ++h3[idx[k + 3]];
        }
    }
    histScalar(x + i, nb - i, p, sub);
}

// Adds the histogram of x[0..nb) to counts (and negCounts in signed mode) through four uint32 sub-histograms,
// flushed every kFlushChunk elements (each sub-histogram gets at most a quarter of that, +3: far below 2^32).
void histogramRange(Isa which, const float* x, int64_t nb, const HistParams& p, int64_t* counts,
                    int64_t* negCounts) {
    const int64_t nbBins = p.mNbBins;
    const int64_t stride = p.mSigned ? 2 * (nbBins + 1) : nbBins + 1;
    std::vector<uint32_t> storage(static_cast<size_t>(stride * kNbSub + 16));
    uint32_t* sub[kNbSub];
    for (int k = 0; k < kNbSub; ++k) sub[k] = storage.data() + k * stride;
    constexpr int64_t kFlushChunk = int64_t{1} << 30;
    for (int64_t start = 0; start < nb; start += kFlushChunk) {
        const int64_t len = nb - start < kFlushChunk ? nb - start : kFlushChunk;
        switch (which) {
            case Isa::kAvx512:
                histAvx512(x + start, len, p, sub);
                break;
            case Isa::kAvx2:
                histAvx2(x + start, len, p, sub);
                break;
            default:
                histScalar(x + start, len, p, sub);
                break;
        }
        for (int64_t b = 0; b < nbBins; ++b) {
            counts[b] += static_cast<int64_t>(sub[0][b]) + sub[1][b] + sub[2][b] + sub[3][b];
        }
        if (p.mSigned) {
            const int64_t off = nbBins + 1;
            for (int64_t b = 0; b < nbBins; ++b) {
                negCounts[b] +=
                    static_cast<int64_t>(sub[0][off + b]) + sub[1][off + b] + sub[2][off + b] + sub[3][off + b];
            }
        }
        std::fill(storage.begin(), storage.end(), 0u);
    }
}

}  // namespace
}  // namespace cpu
}  // namespace kiln

using namespace kiln;
using namespace kiln::cpu;

extern "C" {

KILN_API kiln_status kiln_range_stats(const float* x, int64_t nb, float* out_f, int64_t* out_n) {
    KILN_ENTRY {
        KILN_CHECK_COUNT(nb);
        KILN_CHECK(nb == 0 || x != nullptr, "x must not be null");
        KILN_CHECK_PTR(out_f);
        KILN_CHECK_PTR(out_n);
        // Partial statistics per worker (see kilnThreads.h), merged in worker order.
        const Isa which = isa();
        const int nbWorkers = workersFor(nb, chunkCount(nb, kChunkElements));
        std::vector<RangeAcc> partial(static_cast<size_t>(nbWorkers));
        forWorkerRanges(nbWorkers, nb, kChunkElements, [&](int w, int64_t begin, int64_t end) {
            rangeDispatch(which, x + begin, end - begin, partial[static_cast<size_t>(w)]);
        });
        RangeAcc acc;
        for (const RangeAcc& p : partial) acc.merge(p);
        const int64_t finite = nb - acc.mNan - acc.mPosInf - acc.mNegInf;
        if (finite == 0) {
            out_f[0] = kInf;
            out_f[1] = -kInf;
            out_f[2] = 0.0f;
        } else {
            out_f[0] = fromOrderedKey(acc.mMinKey);
            out_f[1] = fromOrderedKey(acc.mMaxKey);
            const float a = std::fabs(out_f[0]), b = std::fabs(out_f[1]);
            out_f[2] = a > b ? a : b;
        }
        out_n[0] = finite;
        out_n[1] = acc.mNan;
        out_n[2] = acc.mPosInf;
        out_n[3] = acc.mNegInf;
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_histogram(const float* x, int64_t nb, float inv_range, int32_t nb_bins, int32_t mode,
                                    int64_t* counts, int64_t* neg_counts) {
    KILN_ENTRY {
        KILN_CHECK_COUNT(nb);
        KILN_CHECK(nb == 0 || x != nullptr, "x must not be null");
        KILN_CHECK(nb_bins >= 2 && nb_bins % 2 == 0, "nb_bins must be even and >= 2, got %d", nb_bins);
        KILN_CHECK(mode == KILN_HIST_ABS || mode == KILN_HIST_SIGNED, "mode must be KILN_HIST_ABS or KILN_HIST_SIGNED, got %d",
                   mode);
        int exponent = 0;
        KILN_CHECK(std::isfinite(inv_range) && inv_range > 0.0f && std::frexp(inv_range, &exponent) == 0.5f,
                   "inv_range must be a positive finite power of two, got %g", static_cast<double>(inv_range));
        KILN_CHECK_PTR(counts);
        const bool isSigned = mode == KILN_HIST_SIGNED;
        KILN_CHECK(!isSigned || neg_counts != nullptr, "neg_counts must not be null in KILN_HIST_SIGNED mode");
        if (nb == 0) return KILN_OK;
        constexpr int32_t kMaxVectorBins = 1 << 24;
        if (nb_bins > kMaxVectorBins || nb < 4 * static_cast<int64_t>(nb_bins)) {
            histogramGeneric(x, nb, inv_range, nb_bins, isSigned, counts, neg_counts);
            return KILN_OK;
        }
        const HistParams p{inv_range, static_cast<float>(nb_bins), static_cast<float>(nb_bins - 1), nb_bins,
                           isSigned};
        const Isa which = isa();
        // Workers (see kilnThreads.h), each with a range of at least 4 * nb_bins elements so that its
        // sub-histograms pay; each adds into its own int64 partial counts, merged in worker order (exact sums).
        int nbWorkers = workersFor(nb, chunkCount(nb, kChunkElements));
        nbWorkers = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(nbWorkers, nb / (4 * int64_t{nb_bins}))));
        if (nbWorkers == 1) {
            histogramRange(which, x, nb, p, counts, neg_counts);
            return KILN_OK;
        }
        const size_t nbBins = static_cast<size_t>(nb_bins);
        std::vector<int64_t> partial(static_cast<size_t>(nbWorkers) * nbBins * (isSigned ? 2 : 1), 0);
        forWorkerRanges(nbWorkers, nb, kChunkElements, [&](int w, int64_t begin, int64_t end) {
            int64_t* pos = partial.data() + static_cast<size_t>(w) * nbBins * (isSigned ? 2 : 1);
            histogramRange(which, x + begin, end - begin, p, pos, isSigned ? pos + nbBins : nullptr);
        });
        for (int w = 0; w < nbWorkers; ++w) {
            const int64_t* pos = partial.data() + static_cast<size_t>(w) * nbBins * (isSigned ? 2 : 1);
            for (size_t b = 0; b < nbBins; ++b) counts[b] += pos[b];
            if (isSigned) {
                for (size_t b = 0; b < nbBins; ++b) neg_counts[b] += pos[nbBins + b];
            }
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_channel_absmax(const float* x, int64_t outer, int64_t nb_channels, int64_t inner,
                                         float* out) {
    KILN_ENTRY {
        KILN_CHECK_COUNT(outer);
        KILN_CHECK(nb_channels >= 1, "nb_channels must be >= 1, got %lld", static_cast<long long>(nb_channels));
        KILN_CHECK_COUNT(inner);
        int64_t total = checkedProduct(checkedProduct(outer, nb_channels, "outer * nb_channels"), inner, "tensor size");
        KILN_CHECK(total == 0 || x != nullptr, "x must not be null");
        KILN_CHECK_PTR(out);
        for (int64_t c = 0; c < nb_channels; ++c) out[c] = 0.0f;
        const float inf = std::numeric_limits<float>::infinity();
        for (int64_t o = 0; o < outer; ++o) {
            const float* row = x + o * nb_channels * inner;
            if (inner == 1) {
                for (int64_t c = 0; c < nb_channels; ++c) {
                    float a = std::fabs(row[c]);
                    out[c] = (a < inf && a > out[c]) ? a : out[c];
                }
            } else {
                for (int64_t c = 0; c < nb_channels; ++c) {
                    const float* run = row + c * inner;
                    float m = out[c];
                    for (int64_t i = 0; i < inner; ++i) {
                        float a = std::fabs(run[i]);
                        m = (a < inf && a > m) ? a : m;
                    }
                    out[c] = m;
                }
            }
        }
        return KILN_OK;
    }
    KILN_EXIT
}

}  // extern "C"
