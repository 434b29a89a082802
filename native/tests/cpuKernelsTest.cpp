// CPU kernels: hand-checked values, random data against simple scalar references written here, every ISA path,
// and bad arguments (an error status with a message naming the argument, never a crash).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cpu/kilnCommon.h"
#include "kiln/kiln.h"

namespace {

using kiln::cpu::Isa;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

uint32_t bits(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

// Bit-identical, except that any NaN equals any NaN.
bool sameFloat(float a, float b) { return (std::isnan(a) && std::isnan(b)) || bits(a) == bits(b); }

std::vector<Isa> allIsas() {
    std::vector<Isa> out{Isa::kScalar};
    if (static_cast<int>(kiln::cpu::detectedIsa()) >= static_cast<int>(Isa::kAvx2)) out.push_back(Isa::kAvx2);
    if (kiln::cpu::detectedIsa() == Isa::kAvx512) out.push_back(Isa::kAvx512);
    return out;
}

struct IsaGuard {
    Isa mSaved = kiln::cpu::isa();
    ~IsaGuard() { kiln::cpu::setIsa(mSaved); }
};

std::vector<float> randomFloats(size_t n, uint32_t seed, float scale = 4.0f, bool specials = false) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::uniform_int_distribution<int> pick(0, 99);
    std::vector<float> v(n);
    for (auto& x : v) {
        x = dist(rng);
        if (specials) {
            int p = pick(rng);
            if (p == 0) x = kNan;
            if (p == 1) x = kInf;
            if (p == 2) x = -kInf;
            if (p == 3) x = -0.0f;
            if (p == 4) x = 0.0f;
        }
    }
    return v;
}

void expectInvalid(kiln_status s, const char* needle) {
    EXPECT_EQ(s, KILN_ERR_INVALID_ARGUMENT);
    std::string msg = kiln_last_error();
    EXPECT_NE(msg.find(needle), std::string::npos) << "message '" << msg << "' does not name '" << needle << "'";
}

// ---------------------------------------------------------------------------------------------------------------
TEST(Abi, VersionAndIsaAreReported) {
    EXPECT_EQ(kiln_abi_version(), KILN_ABI_VERSION);
    std::string isa = kiln_cpu_isa();
    EXPECT_TRUE(isa == "avx512" || isa == "avx2" || isa == "scalar") << isa;
    EXPECT_STREQ(kiln_last_error(), "");
}

// ---------------------------------------------------------------------------------------------------------------
TEST(RangeStats, HandCheckedValues) {
    float x[] = {1.5f, -3.0f, kNan, kInf, -kInf, 2.0f, kInf};
    float f[3];
    int64_t n[4];
    ASSERT_EQ(kiln_range_stats(x, 7, f, n), KILN_OK);
    EXPECT_EQ(f[0], -3.0f);
    EXPECT_EQ(f[1], 2.0f);
    EXPECT_EQ(f[2], 3.0f);
    EXPECT_EQ(n[0], 3);
    EXPECT_EQ(n[1], 1);
    EXPECT_EQ(n[2], 2);
    EXPECT_EQ(n[3], 1);
}

TEST(RangeStats, NoFiniteValueAndSignedZeros) {
    float x[] = {kNan, kNan};
    float f[3];
    int64_t n[4];
    ASSERT_EQ(kiln_range_stats(x, 2, f, n), KILN_OK);
    EXPECT_EQ(f[0], kInf);
    EXPECT_EQ(f[1], -kInf);
    EXPECT_EQ(f[2], 0.0f);
    EXPECT_EQ(n[0], 0);
    EXPECT_EQ(n[1], 2);
    ASSERT_EQ(kiln_range_stats(nullptr, 0, f, n), KILN_OK);
    EXPECT_EQ(n[0], 0);
    std::vector<float> zeros(37, -0.0f);
    zeros[20] = 0.0f;
    ASSERT_EQ(kiln_range_stats(zeros.data(), 37, f, n), KILN_OK);
    EXPECT_EQ(bits(f[0]), 0x80000000u);  // -0.0 orders below +0.0, as Java's Math.min
    EXPECT_EQ(bits(f[1]), 0u);
    EXPECT_EQ(bits(f[2]), 0u);
}

TEST(RangeStats, EveryIsaMatchesReferenceOnRandomData) {
    IsaGuard guard;
    auto x = randomFloats(100003, 1, 10.0f, true);
    float rmin = kInf, rmax = -kInf, rabs = 0.0f;
    int64_t fin = 0, nan = 0, pinf = 0, ninf = 0;
    for (float v : x) {
        if (std::isnan(v)) { ++nan; continue; }
        if (v == kInf) { ++pinf; continue; }
        if (v == -kInf) { ++ninf; continue; }
        ++fin;
        rmin = std::min(rmin, v);
        rmax = std::max(rmax, v);
        rabs = std::max(rabs, std::fabs(v));
    }
    for (Isa isa : allIsas()) {
        kiln::cpu::setIsa(isa);
        float f[3];
        int64_t n[4];
        ASSERT_EQ(kiln_range_stats(x.data(), static_cast<int64_t>(x.size()), f, n), KILN_OK);
        EXPECT_EQ(f[0], rmin) << kiln_cpu_isa();
        EXPECT_EQ(f[1], rmax) << kiln_cpu_isa();
        EXPECT_EQ(f[2], rabs) << kiln_cpu_isa();
        EXPECT_EQ(n[0], fin);
        EXPECT_EQ(n[1], nan);
        EXPECT_EQ(n[2], pinf);
        EXPECT_EQ(n[3], ninf);
    }
}

TEST(RangeStats, BadArguments) {
    float f[3];
    int64_t n[4];
    float x[1] = {1};
    expectInvalid(kiln_range_stats(nullptr, 4, f, n), "x");
    expectInvalid(kiln_range_stats(x, -1, f, n), "nb");
    expectInvalid(kiln_range_stats(x, 1, nullptr, n), "out_f");
    expectInvalid(kiln_range_stats(x, 1, f, nullptr), "out_n");
}

// ---------------------------------------------------------------------------------------------------------------
void histReference(const std::vector<float>& x, float inv, int32_t nbBins, bool isSigned, std::vector<int64_t>& c,
                   std::vector<int64_t>& neg) {
    for (float v : x) {
        if (!std::isfinite(v)) continue;
        float a = std::fabs(v);
        float y = (a * inv) * static_cast<float>(nbBins);
        int64_t bin = y >= static_cast<float>(nbBins) ? nbBins - 1 : static_cast<int64_t>(y);
        bin = std::min<int64_t>(bin, nbBins - 1);
        if (isSigned && v < 0.0f) {
            ++neg[bin];
        } else {
            ++c[bin];
        }
    }
}

TEST(Histogram, HandCheckedValues) {
    // range 4 (inv 0.25), 8 bins of width 0.5
    float x[] = {0.0f, 0.49f, 0.5f, -1.2f, 3.99f, 4.0f, 100.0f, kNan, kInf, -0.0f};
    std::vector<int64_t> c(8, 0), neg(8, 0);
    ASSERT_EQ(kiln_histogram(x, 10, 0.25f, 8, KILN_HIST_ABS, c.data(), nullptr), KILN_OK);
    EXPECT_EQ(c, (std::vector<int64_t>{3, 1, 1, 0, 0, 0, 0, 3}));
    std::fill(c.begin(), c.end(), 0);
    ASSERT_EQ(kiln_histogram(x, 10, 0.25f, 8, KILN_HIST_SIGNED, c.data(), neg.data()), KILN_OK);
    EXPECT_EQ(c, (std::vector<int64_t>{3, 1, 0, 0, 0, 0, 0, 3}));
    EXPECT_EQ(neg, (std::vector<int64_t>{0, 0, 1, 0, 0, 0, 0, 0}));
    // counts accumulate
    ASSERT_EQ(kiln_histogram(x, 1, 0.25f, 8, KILN_HIST_SIGNED, c.data(), neg.data()), KILN_OK);
    EXPECT_EQ(c[0], 4);
}

TEST(Histogram, EveryIsaMatchesReferenceOnRandomData) {
    IsaGuard guard;
    auto x = randomFloats(200001, 2, 3.0f, true);
    for (bool isSigned : {false, true}) {
        for (int32_t nbBins : {2, 2048, 4096}) {
            std::vector<int64_t> rc(nbBins, 0), rn(nbBins, 0);
            histReference(x, 0.0625f, nbBins, isSigned, rc, rn);
            for (Isa isa : allIsas()) {
                kiln::cpu::setIsa(isa);
                std::vector<int64_t> c(nbBins, 0), n(nbBins, 0);
                ASSERT_EQ(kiln_histogram(x.data(), static_cast<int64_t>(x.size()), 0.0625f, nbBins,
                                         isSigned ? KILN_HIST_SIGNED : KILN_HIST_ABS, c.data(), n.data()),
                          KILN_OK);
                EXPECT_EQ(c, rc) << kiln_cpu_isa() << " bins " << nbBins << " signed " << isSigned;
                if (isSigned) {
                    EXPECT_EQ(n, rn) << kiln_cpu_isa();
                }
            }
        }
    }
}

TEST(Histogram, DoublingTheRangeEqualsMergingBinPairs) {
    auto x = randomFloats(50000, 3, 2.0f);
    std::vector<int64_t> narrow(2048, 0), wide(2048, 0);
    ASSERT_EQ(kiln_histogram(x.data(), 50000, 0.125f, 2048, KILN_HIST_ABS, narrow.data(), nullptr), KILN_OK);
    ASSERT_EQ(kiln_histogram(x.data(), 50000, 0.0625f, 2048, KILN_HIST_ABS, wide.data(), nullptr), KILN_OK);
    // values >= 8 are clamped into the last narrow bin; compare only the bins below the narrow range's end
    std::vector<int64_t> merged(2048, 0);
    for (int b = 0; b < 2048; ++b) merged[b / 2] += narrow[b];
    for (int b = 0; b < 1023; ++b) EXPECT_EQ(merged[b], wide[b]) << b;
}

TEST(Histogram, BatchesGiveTheSameCounts) {
    auto x = randomFloats(30000, 4, 1.0f, true);
    std::vector<int64_t> whole(2048, 0);
    ASSERT_EQ(kiln_histogram(x.data(), 30000, 0.25f, 2048, KILN_HIST_ABS, whole.data(), nullptr), KILN_OK);
    for (int64_t batch : {1, 7, 256, 9000}) {
        std::vector<int64_t> c(2048, 0);
        for (int64_t s = 0; s < 30000; s += batch) {
            ASSERT_EQ(kiln_histogram(x.data() + s, std::min<int64_t>(batch, 30000 - s), 0.25f, 2048, KILN_HIST_ABS,
                                     c.data(), nullptr),
                      KILN_OK);
        }
        EXPECT_EQ(c, whole) << batch;
    }
}

TEST(Histogram, BadArguments) {
    float x[4] = {1, 2, 3, 4};
    int64_t c[8] = {0}, n[8] = {0};
    expectInvalid(kiln_histogram(nullptr, 4, 0.5f, 8, KILN_HIST_ABS, c, nullptr), "x");
    expectInvalid(kiln_histogram(x, -4, 0.5f, 8, KILN_HIST_ABS, c, nullptr), "nb");
    expectInvalid(kiln_histogram(x, 4, 0.5f, 0, KILN_HIST_ABS, c, nullptr), "nb_bins");
    expectInvalid(kiln_histogram(x, 4, 0.5f, 7, KILN_HIST_ABS, c, nullptr), "nb_bins");
    expectInvalid(kiln_histogram(x, 4, 0.3f, 8, KILN_HIST_ABS, c, nullptr), "inv_range");
    expectInvalid(kiln_histogram(x, 4, -0.5f, 8, KILN_HIST_ABS, c, nullptr), "inv_range");
    expectInvalid(kiln_histogram(x, 4, kInf, 8, KILN_HIST_ABS, c, nullptr), "inv_range");
    expectInvalid(kiln_histogram(x, 4, 0.5f, 8, 2, c, nullptr), "mode");
    expectInvalid(kiln_histogram(x, 4, 0.5f, 8, KILN_HIST_ABS, nullptr, nullptr), "counts");
    expectInvalid(kiln_histogram(x, 4, 0.5f, 8, KILN_HIST_SIGNED, c, nullptr), "neg_counts");
    (void)n;
}

// ---------------------------------------------------------------------------------------------------------------
TEST(ChannelAbsMax, PerAxis) {
    // [outer 2, channels 3, inner 2]
    float x[] = {1, -2, 3, kNan, -0.5f, 0, -7, 1, kInf, 2, 0.25f, -0.75f};
    float out[3];
    ASSERT_EQ(kiln_channel_absmax(x, 2, 3, 2, out), KILN_OK);
    EXPECT_EQ(out[0], 7.0f);
    EXPECT_EQ(out[1], 3.0f);
    EXPECT_EQ(out[2], 0.75f);
    ASSERT_EQ(kiln_channel_absmax(x, 4, 3, 1, out), KILN_OK);  // last axis
    EXPECT_EQ(out[0], 7.0f);
    EXPECT_EQ(out[1], 2.0f);
    EXPECT_EQ(out[2], 3.0f);
    expectInvalid(kiln_channel_absmax(x, 2, 0, 2, out), "nb_channels");
    expectInvalid(kiln_channel_absmax(x, 2, 3, 2, nullptr), "out");
    expectInvalid(kiln_channel_absmax(nullptr, 2, 3, 2, out), "x");
}

// ---------------------------------------------------------------------------------------------------------------
int32_t quantReference(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
    if (std::isnan(x)) return zp;
    float t = std::nearbyint(x / scale) + static_cast<float>(zp);
    t = std::min(std::max(t, static_cast<float>(qmin)), static_cast<float>(qmax));
    return static_cast<int32_t>(t);
}

TEST(Quantize, RoundsHalfToEvenAndClamps) {
    float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1000.0f, -1000.0f, kNan, kInf, -kInf};
    float scale = 1.0f;
    int32_t zp = 0;
    int32_t q[10];
    ASSERT_EQ(kiln_quantize(x, 1, 1, 10, &scale, &zp, -127, 127, q), KILN_OK);
    EXPECT_EQ(std::vector<int32_t>(q, q + 10), (std::vector<int32_t>{0, 2, 2, 0, -2, 127, -127, 0, 127, -127}));
    zp = 10;
    ASSERT_EQ(kiln_quantize(x, 1, 1, 10, &scale, &zp, 0, 255, q), KILN_OK);
    EXPECT_EQ(std::vector<int32_t>(q, q + 10), (std::vector<int32_t>{10, 12, 12, 10, 8, 255, 0, 10, 255, 0}));
}

TEST(Quantize, EveryIsaMatchesReferencePerChannel) {
    IsaGuard guard;
    const int64_t outer = 7, ch = 5, inner = 301;
    auto x = randomFloats(outer * ch * inner, 5, 3.0f, true);
    std::vector<float> scale{0.01f, 0.1f, 0.0237f, 1.0f, 0.3f};
    std::vector<int32_t> zp{0, 3, -5, 100, -128};
    for (auto shape : {std::vector<int64_t>{outer, ch, inner}, std::vector<int64_t>{outer * inner, ch, 1}}) {
        std::vector<int32_t> ref(x.size());
        for (int64_t o = 0; o < shape[0]; ++o) {
            for (int64_t c = 0; c < ch; ++c) {
                for (int64_t i = 0; i < shape[2]; ++i) {
                    int64_t k = (o * ch + c) * shape[2] + i;
                    ref[k] = quantReference(x[k], scale[c], zp[c], -128, 127);
                }
            }
        }
        for (Isa isa : allIsas()) {
            kiln::cpu::setIsa(isa);
            std::vector<int32_t> q(x.size());
            ASSERT_EQ(kiln_quantize(x.data(), shape[0], ch, shape[2], scale.data(), zp.data(), -128, 127, q.data()),
                      KILN_OK);
            EXPECT_EQ(q, ref) << kiln_cpu_isa();
        }
    }
}

TEST(Quantize, BadArguments) {
    float x[2] = {1, 2};
    float scale = 1.0f, zeroScale = 0.0f, nanScale = kNan;
    int32_t zp = 0, bigZp = 300, q[2];
    expectInvalid(kiln_quantize(nullptr, 1, 1, 2, &scale, &zp, -128, 127, q), "x");
    expectInvalid(kiln_quantize(x, 1, 1, 2, &scale, &zp, -128, 127, nullptr), "q");
    expectInvalid(kiln_quantize(x, 1, 1, 2, nullptr, &zp, -128, 127, q), "scale");
    expectInvalid(kiln_quantize(x, 1, 1, 2, &zeroScale, &zp, -128, 127, q), "scale");
    expectInvalid(kiln_quantize(x, 1, 1, 2, &nanScale, &zp, -128, 127, q), "scale");
    EXPECT_EQ(kiln_quantize(x, 1, 1, 2, &scale, &bigZp, -128, 127, q), KILN_OK);  // clamped like any other value
    EXPECT_EQ(q[0], 127);
    expectInvalid(kiln_quantize(x, 1, 1, 2, &scale, &zp, 127, -128, q), "qmin");
    expectInvalid(kiln_quantize(x, 1, 1, 2, &scale, &zp, -100000, 127, q), "qmin");
    expectInvalid(kiln_quantize(x, -1, 1, 2, &scale, &zp, -128, 127, q), "outer");
    expectInvalid(kiln_quantize(x, 1, 0, 2, &scale, &zp, -128, 127, q), "nb_channels");
}

TEST(Dequantize, AffineAndPerChannel) {
    int32_t q[] = {-3, 0, 5, 10};
    float scale[] = {0.5f, 2.0f};
    int32_t zp[] = {1, -2};
    float y[4];
    ASSERT_EQ(kiln_dequantize(q, 1, 2, 2, scale, zp, y), KILN_OK);
    EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{-2.0f, -0.5f, 14.0f, 24.0f}));
    int32_t extreme[] = {std::numeric_limits<int32_t>::max()};
    int32_t negZp = -5;
    float one = 1.0f;
    ASSERT_EQ(kiln_dequantize(extreme, 1, 1, 1, &one, &negZp, y), KILN_OK);  // no int32 overflow
    EXPECT_EQ(y[0], static_cast<float>(2147483652.0));
    expectInvalid(kiln_dequantize(q, 1, 2, 2, nullptr, zp, y), "scale");
    expectInvalid(kiln_dequantize(q, 1, 2, 2, scale, zp, nullptr), "y");
}

// ---------------------------------------------------------------------------------------------------------------
// TensorFlow 2.x's FakeQuantWithMinMaxVars (perTensor, divides) / ...PerChannel (multiplies), step by step as
// tensorflow/core/kernels/fake_quant_ops_functor.h does (volatile: every step is a rounded float32 operation).
float fakeQuantReference(float x, float min, float max, int bits, bool narrow, bool perTensor) {
    if (min == 0.0f && max == 0.0f) return 0.0f;
    volatile float quantMin = narrow ? 1.0f : 0.0f;
    volatile float quantMax = static_cast<float>((1 << bits) - 1);
    volatile float scale = (max - min) / (quantMax - quantMin);
    volatile float inv = (quantMax - quantMin) / (max - min);
    volatile float zpFromMin = quantMin - min / scale;
    float zp = zpFromMin < quantMin ? quantMin : zpFromMin > quantMax ? quantMax : std::round(zpFromMin);
    volatile float nudgedMin = (quantMin - zp) * scale;
    volatile float nudgedMax = (quantMax - zp) * scale;
    volatile float negMin = -nudgedMin;
    volatile float qz0 = negMin * inv;
    volatile float qz = std::floor(qz0 + 0.5f);
    float c = x > nudgedMax ? static_cast<float>(nudgedMax) : x;
    c = c < nudgedMin ? static_cast<float>(nudgedMin) : c;
    volatile float d = c - nudgedMin;
    volatile float t = perTensor ? d / scale : d * inv;
    volatile float u = t - qz;
    volatile float v = u + 0.5f;
    volatile float f = std::floor(v);
    return f * scale;
}

TEST(FakeQuant, HandCheckedValues) {
    // TF's own documented example: min -6, max 6 ... here a simpler exact case: [0, 255] with 8 bits: scale 1
    float x[] = {-1.0f, 0.0f, 0.4f, 0.5f, 1.5f, 254.6f, 300.0f};
    float y[7];
    float mn = 0.0f, mx = 255.0f;
    ASSERT_EQ(kiln_fake_quant(x, 1, 1, 7, &mn, &mx, 8, 0, y), KILN_OK);
    EXPECT_EQ(std::vector<float>(y, y + 7), (std::vector<float>{0.0f, 0.0f, 0.0f, 1.0f, 2.0f, 255.0f, 255.0f}));
    float mn2 = -0.1f, mx2 = 25.4f;
    float x2[] = {-0.1f, 0.04f, 25.5f, kNan};
    ASSERT_EQ(kiln_fake_quant(x2, 1, 1, 4, &mn2, &mx2, 8, 0, y), KILN_OK);
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(sameFloat(y[i], fakeQuantReference(x2[i], mn2, mx2, 8, false, true))) << i;
    EXPECT_TRUE(std::isnan(y[3]));
    EXPECT_EQ(y[1], 0.0f);
    // min == max == 0: TensorFlow outputs 0 for the whole channel, NaN included
    float zero = 0.0f;
    ASSERT_EQ(kiln_fake_quant(x2, 1, 1, 4, &zero, &zero, 8, 0, y), KILN_OK);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(bits(y[i]), 0u);
}

TEST(FakeQuant, EveryIsaIsBitIdenticalToReference) {
    IsaGuard guard;
    const int64_t outer = 6, ch = 19, inner = 257;
    auto x = randomFloats(outer * ch * inner, 6, 3.0f, true);
    std::vector<float> mn(ch), mx(ch);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-5.0f, 5.0f);
    for (int64_t c = 0; c < ch; ++c) {
        float a = u(rng), b = u(rng);
        mn[c] = std::min(a, b);
        mx[c] = std::max(a, b);
    }
    mn[0] = 0.0f;
    mx[0] = std::fabs(mx[0]) + 0.5f;
    mx[1] = mn[1];
    mn[2] = 0.0f;
    mx[2] = 0.0f;
    for (int bits : {2, 8, 16}) {
        for (bool narrow : {false, true}) {
            for (auto shape : {std::vector<int64_t>{outer, ch, inner}, std::vector<int64_t>{outer * inner, ch, 1},
                               std::vector<int64_t>{1, 1, outer * ch * inner}}) {
                const int64_t nc = shape[1];
                std::vector<float> ref(x.size());
                for (int64_t o = 0; o < shape[0]; ++o)
                    for (int64_t c = 0; c < nc; ++c)
                        for (int64_t i = 0; i < shape[2]; ++i) {
                            int64_t k = (o * nc + c) * shape[2] + i;
                            ref[k] = fakeQuantReference(x[k], mn[c], mx[c], bits, narrow, nc == 1);
                        }
                for (Isa isa : allIsas()) {
                    kiln::cpu::setIsa(isa);
                    std::vector<float> y(x.size());
                    ASSERT_EQ(kiln_fake_quant(x.data(), shape[0], nc, shape[2], mn.data(), mx.data(), bits, narrow,
                                              y.data()),
                              KILN_OK);
                    int64_t bad = 0;
                    for (size_t k = 0; k < y.size(); ++k) bad += sameFloat(y[k], ref[k]) ? 0 : 1;
                    EXPECT_EQ(bad, 0) << kiln_cpu_isa() << " bits " << bits << " narrow " << narrow;
                    // in place
                    std::vector<float> inplace = x;
                    ASSERT_EQ(kiln_fake_quant(inplace.data(), shape[0], nc, shape[2], mn.data(), mx.data(), bits,
                                              narrow, inplace.data()),
                              KILN_OK);
                    for (size_t k = 0; k < y.size(); ++k) ASSERT_TRUE(sameFloat(inplace[k], y[k]));
                }
            }
        }
    }
}

TEST(FakeQuant, LargeArrayUsesStreamingPathIdentically) {
    IsaGuard guard;
    const int64_t n = (int64_t{4} << 20) + 37;
    auto x = randomFloats(static_cast<size_t>(n), 8, 2.0f);
    float mn = -3.0f, mx = 2.5f;
    std::vector<float> y(n);
    for (Isa isa : allIsas()) {
        kiln::cpu::setIsa(isa);
        ASSERT_EQ(kiln_fake_quant(x.data() + 1, 1, 1, n - 1, &mn, &mx, 8, 0, y.data() + 1), KILN_OK);
        int64_t bad = 0;
        for (int64_t k = 1; k < n; ++k) bad += sameFloat(y[k], fakeQuantReference(x[k], mn, mx, 8, false, true)) ? 0 : 1;
        EXPECT_EQ(bad, 0) << kiln_cpu_isa();
    }
}

TEST(FakeQuant, LargePerChannelLastAxisUsesStreamingPathIdentically) {
    IsaGuard guard;
    // 64: the parameter-table path with a period of 64; 19, 3: periods 608, 96; 5000: period 20000, above the
    // table's limit (the wrapping path). Offsets 0 and 3 floats: y aligned and not (Java arrays start 16 bytes in).
    for (int64_t ch : {int64_t{19}, int64_t{256}, int64_t{3}, int64_t{64}, int64_t{5000}})
    for (int64_t off : {int64_t{0}, int64_t{3}}) {
        const int64_t outer = ((int64_t{4} << 20) + 1000) / ch;
        const int64_t n = outer * ch;
        auto x = randomFloats(static_cast<size_t>(n), 15, 2.0f, true);
        std::vector<float> mn(ch), mx(ch);
        for (int64_t c = 0; c < ch; ++c) {
            mn[c] = -1.0f - 0.1f * static_cast<float>(c % 7);
            mx[c] = 0.5f + 0.3f * static_cast<float>(c % 5);
        }
        mn[1] = 0.0f;
        mx[1] = 0.0f;
        std::vector<float> ref(n);
        for (int64_t k = 0; k < n; ++k) ref[k] = fakeQuantReference(x[k], mn[k % ch], mx[k % ch], 8, true, false);
        std::vector<float> xo(static_cast<size_t>(n + off));
        std::copy(x.begin(), x.end(), xo.begin() + off);
        for (Isa isa : allIsas()) {
            kiln::cpu::setIsa(isa);
            std::vector<float> y(static_cast<size_t>(n + off));
            ASSERT_EQ(kiln_fake_quant(xo.data() + off, outer, ch, 1, mn.data(), mx.data(), 8, 1, y.data() + off),
                      KILN_OK);
            int64_t bad = 0;
            for (int64_t k = 0; k < n; ++k) bad += sameFloat(y[off + k], ref[k]) ? 0 : 1;
            EXPECT_EQ(bad, 0) << kiln_cpu_isa() << " channels " << ch << " offset " << off;
        }
    }
}

TEST(FakeQuant, BadArguments) {
    float x[2] = {1, 2}, y[2];
    float mn = 0.0f, mx = 1.0f, big = 2.0f, nan = kNan;
    expectInvalid(kiln_fake_quant(x, 1, 1, 2, &mn, &mx, 1, 0, y), "num_bits");
    expectInvalid(kiln_fake_quant(x, 1, 1, 2, &mn, &mx, 17, 0, y), "num_bits");
    expectInvalid(kiln_fake_quant(x, 1, 1, 2, &big, &mx, 8, 0, y), "min");
    expectInvalid(kiln_fake_quant(x, 1, 1, 2, &nan, &mx, 8, 0, y), "min");
    expectInvalid(kiln_fake_quant(x, 1, 1, 2, &mn, &mx, 8, 2, y), "narrow_range");
    expectInvalid(kiln_fake_quant(nullptr, 1, 1, 2, &mn, &mx, 8, 0, y), "x");
    expectInvalid(kiln_fake_quant(x, 1, 1, 2, &mn, &mx, 8, 0, nullptr), "y");
    expectInvalid(kiln_fake_quant(x, 1, 1, 2, nullptr, &mx, 8, 0, y), "min");
}

// ---------------------------------------------------------------------------------------------------------------
TEST(Half, KnownValues) {
    float x[] = {1.0f, -2.0f, 65504.0f, 65519.0f, 65520.0f, kInf, -kInf, 5.9604645e-8f, 2.9802322e-8f,
                 2.9802326e-8f, 6.1035156e-5f, 0.0f, -0.0f, 1.0009765625f, 1.00048828125f, 1.00146484375f};
    uint16_t expect[] = {0x3c00, 0xc000, 0x7bff, 0x7bff, 0x7c00, 0x7c00, 0xfc00, 0x0001, 0x0000,
                         0x0001, 0x0400, 0x0000, 0x8000, 0x3c01, 0x3c00, 0x3c02};
    const int n = sizeof(x) / sizeof(x[0]);
    uint16_t h[n];
    ASSERT_EQ(kiln_f32_to_f16(x, n, h), KILN_OK);
    for (int i = 0; i < n; ++i) EXPECT_EQ(h[i], expect[i]) << i << " " << x[i];
    float nan;
    uint32_t nanBits = 0xffa00001u;  // negative signalling NaN with payload
    std::memcpy(&nan, &nanBits, 4);
    ASSERT_EQ(kiln_f32_to_f16(&nan, 1, h), KILN_OK);
    EXPECT_EQ(h[0], 0xfe00 | (0x200001u >> 13));
}

TEST(Half, EveryHalfRoundTrips) {
    std::vector<uint16_t> all(65536);
    std::iota(all.begin(), all.end(), 0);
    std::vector<float> f(65536);
    std::vector<uint16_t> back(65536);
    ASSERT_EQ(kiln_f16_to_f32(all.data(), 65536, f.data()), KILN_OK);
    ASSERT_EQ(kiln_f32_to_f16(f.data(), 65536, back.data()), KILN_OK);
    for (int i = 0; i < 65536; ++i) {
        bool isNan = (i & 0x7c00) == 0x7c00 && (i & 0x3ff) != 0;
        if (isNan) {
            EXPECT_TRUE(std::isnan(f[i]));
            EXPECT_EQ(back[i], i | 0x200) << i;  // quieted, payload and sign kept
        } else {
            ASSERT_EQ(back[i], i) << i;
        }
    }
    EXPECT_EQ(f[0x0001], 5.9604645e-8f);
    EXPECT_EQ(f[0x3c00], 1.0f);
    EXPECT_EQ(f[0x7c00], kInf);
}

TEST(Half, RoundsToNearestEvenOnRandomData) {
    auto x = randomFloats(100000, 9, 1000.0f, true);
    std::vector<uint16_t> h(x.size());
    std::vector<float> back(x.size());
    ASSERT_EQ(kiln_f32_to_f16(x.data(), static_cast<int64_t>(x.size()), h.data()), KILN_OK);
    ASSERT_EQ(kiln_f16_to_f32(h.data(), static_cast<int64_t>(x.size()), back.data()), KILN_OK);
    for (size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(x[i])) continue;
        // the nearest half: neighbours must not be closer
        double err = std::fabs(static_cast<double>(back[i]) - x[i]);
        if (std::isinf(back[i])) continue;
        uint16_t up = static_cast<uint16_t>(h[i] + 1), down = static_cast<uint16_t>(h[i] - 1);
        float fu, fd;
        kiln_f16_to_f32(&up, 1, &fu);
        kiln_f16_to_f32(&down, 1, &fd);
        if (std::isfinite(fu) && (h[i] & 0x7fff) != 0x7bff) {
            EXPECT_LE(err, std::fabs(static_cast<double>(fu) - x[i]));
        }
        if (std::isfinite(fd) && (h[i] & 0x7fff) != 0) {
            EXPECT_LE(err, std::fabs(static_cast<double>(fd) - x[i]));
        }
    }
    expectInvalid(kiln_f32_to_f16(nullptr, 3, h.data()), "x");
    expectInvalid(kiln_f16_to_f32(h.data(), 3, nullptr), "x");
}

// ---------------------------------------------------------------------------------------------------------------
std::vector<uint8_t> magnitudeReference(const std::vector<float>& w, int64_t keep) {
    std::vector<int64_t> idx(w.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return std::fabs(w[a]) > std::fabs(w[b]); });
    std::vector<uint8_t> m(w.size(), 0);
    for (int64_t k = 0; k < keep; ++k) m[idx[k]] = 1;
    return m;
}

TEST(MaskMagnitude, TiesGoToLowerIndex) {
    float w[] = {1.0f, -3.0f, 2.0f, -2.0f, 2.0f, 0.0f};
    uint8_t m[6];
    ASSERT_EQ(kiln_mask_magnitude(w, 6, 3, m), KILN_OK);
    EXPECT_EQ(std::vector<uint8_t>(m, m + 6), (std::vector<uint8_t>{0, 1, 1, 1, 0, 0}));
    ASSERT_EQ(kiln_mask_magnitude(w, 6, 0, m), KILN_OK);
    EXPECT_EQ(std::count(m, m + 6, 1), 0);
    ASSERT_EQ(kiln_mask_magnitude(w, 6, 6, m), KILN_OK);
    EXPECT_EQ(std::count(m, m + 6, 1), 6);
}

TEST(MaskMagnitude, MatchesReferenceOnRandomData) {
    auto w = randomFloats(20000, 10, 1.0f);
    for (size_t i = 0; i < w.size(); i += 7) w[i] = std::round(w[i] * 4.0f) / 4.0f;  // many ties
    for (int64_t keep : {1, 100, 9999, 19999}) {
        std::vector<uint8_t> m(w.size());
        ASSERT_EQ(kiln_mask_magnitude(w.data(), 20000, keep, m.data()), KILN_OK);
        EXPECT_EQ(m, magnitudeReference(w, keep)) << keep;
    }
    float nanW[] = {1.0f, kNan};
    uint8_t m2[2];
    expectInvalid(kiln_mask_magnitude(nanW, 2, 1, m2), "NaN");
    expectInvalid(kiln_mask_magnitude(w.data(), 10, 11, m2), "nb_keep");
    expectInvalid(kiln_mask_magnitude(w.data(), 10, -1, m2), "nb_keep");
    expectInvalid(kiln_mask_magnitude(nullptr, 10, 1, m2), "w");
    expectInvalid(kiln_mask_magnitude(w.data(), 10, 1, nullptr), "mask");
}

TEST(MaskNM, TwoFourAlongEachAxis) {
    float w[] = {0.1f, -0.9f, 0.5f, 0.5f, 3.0f, 0.0f, 0.0f, -3.0f};
    uint8_t m[8];
    ASSERT_EQ(kiln_mask_n_m(w, 2, 4, 1, 2, 4, m), KILN_OK);
    EXPECT_EQ(std::vector<uint8_t>(m, m + 8), (std::vector<uint8_t>{0, 1, 1, 0, 1, 0, 0, 1}));
    // same data viewed as [1, 4, 2]: groups are columns (0,2,4,6) and (1,3,5,7)
    ASSERT_EQ(kiln_mask_n_m(w, 1, 4, 2, 2, 4, m), KILN_OK);
    EXPECT_EQ(std::vector<uint8_t>(m, m + 8), (std::vector<uint8_t>{0, 1, 1, 0, 1, 0, 0, 1}));
    float w2[] = {1, 2, 3, 4, 5, 6, 7, 8};
    ASSERT_EQ(kiln_mask_n_m(w2, 1, 4, 2, 2, 4, m), KILN_OK);
    EXPECT_EQ(std::vector<uint8_t>(m, m + 8), (std::vector<uint8_t>{0, 0, 0, 0, 1, 1, 1, 1}));
    expectInvalid(kiln_mask_n_m(w, 1, 6, 1, 2, 4, m), "len");
    expectInvalid(kiln_mask_n_m(w, 2, 4, 1, 5, 4, m), "n");
    expectInvalid(kiln_mask_n_m(w, 2, 4, 1, 2, 17, m), "m");
    expectInvalid(kiln_mask_n_m(w, 2, 4, 1, 2, 4, nullptr), "mask");
}

TEST(MaskNM, NaNRanksAboveInfinityAsItsBitsDo) {
    float w[] = {kInf, kNan, 1.0f, -kInf};
    uint8_t m[4];
    ASSERT_EQ(kiln_mask_n_m(w, 1, 4, 1, 2, 4, m), KILN_OK);
    EXPECT_EQ(std::vector<uint8_t>(m, m + 4), (std::vector<uint8_t>{1, 1, 0, 0}));
}

TEST(MaskBlock, ANaNScoreRanksFirstLikeJavaDoubleCompare) {
    float w[] = {1, 1, kNan, 0, 5, 5, 0, 0};  // 2x4, 1x2 blocks: scores 2, NaN, 50, 0
    uint8_t m[8];
    ASSERT_EQ(kiln_mask_block(w, 2, 4, 1, 2, 2, m), KILN_OK);
    EXPECT_EQ(std::vector<uint8_t>(m, m + 8), (std::vector<uint8_t>{0, 0, 1, 1, 1, 1, 0, 0}));
}

TEST(MaskNM, ResultSatisfiesNMAndKeepsLargest) {
    auto w = randomFloats(64 * 48 * 3, 11, 1.0f);
    std::vector<uint8_t> m(w.size());
    ASSERT_EQ(kiln_mask_n_m(w.data(), 64, 48, 3, 2, 4, m.data()), KILN_OK);
    std::vector<float> masked(w.size());
    for (size_t i = 0; i < w.size(); ++i) masked[i] = m[i] ? w[i] : 0.0f;
    int64_t bad = -1;
    ASSERT_EQ(kiln_check_n_m(masked.data(), 64, 48, 3, 2, 4, &bad, nullptr, 0), KILN_OK);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(std::count(m.begin(), m.end(), 1), static_cast<long>(w.size() / 2));
}

TEST(CheckNM, ReportsViolatingGroupsInOrder) {
    // [2, 8, 1]: groups start at 0, 4, 8, 12
    float w[] = {1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0};
    int64_t nb = -1, first[4] = {-1, -1, -1, -1};
    ASSERT_EQ(kiln_check_n_m(w, 2, 8, 1, 2, 4, &nb, first, 1), KILN_OK);
    EXPECT_EQ(nb, 2);
    EXPECT_EQ(first[0], 0);
    EXPECT_EQ(first[1], -1);
    ASSERT_EQ(kiln_check_n_m(w, 2, 8, 1, 2, 4, &nb, first, 4), KILN_OK);
    EXPECT_EQ(first[1], 8);
    expectInvalid(kiln_check_n_m(w, 2, 8, 1, 2, 4, nullptr, first, 4), "nb_bad");
    expectInvalid(kiln_check_n_m(w, 2, 8, 1, 2, 4, &nb, nullptr, 4), "first_bad");
}

TEST(MaskBlock, KeepsHighestEnergyBlocks) {
    // 4x4 with 2x2 blocks: energies: b0 = 4, b1 = 16, b2 = 4, b3 = 1
    float w[] = {1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 0, 1, 1, -1, 0, 0};
    uint8_t m[16];
    ASSERT_EQ(kiln_mask_block(w, 4, 4, 2, 2, 2, m), KILN_OK);  // b1, then tie b0/b2 -> b0
    EXPECT_EQ(std::vector<uint8_t>(m, m + 16),
              (std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}));
    expectInvalid(kiln_mask_block(w, 4, 4, 3, 2, 1, m), "rows");
    expectInvalid(kiln_mask_block(w, 4, 4, 2, 3, 1, m), "cols");
    expectInvalid(kiln_mask_block(w, 4, 4, 2, 2, 5, m), "nb_keep");
    expectInvalid(kiln_mask_block(w, 4, 4, 0, 2, 1, m), "br");
}

TEST(MaskBlock, MatchesReferenceOnRandomData) {
    const int64_t rows = 48, cols = 64;
    auto w = randomFloats(rows * cols, 12, 1.0f);
    const int br = 4, bc = 8;
    const int64_t nbBlocks = (rows / br) * (cols / bc);
    std::vector<double> score(nbBlocks, 0.0);
    for (int64_t b = 0; b < nbBlocks; ++b) {
        for (int i = 0; i < br; ++i) {
            for (int j = 0; j < bc; ++j) {
                double v = w[((b / (cols / bc)) * br + i) * cols + (b % (cols / bc)) * bc + j];
                score[b] += v * v;
            }
        }
    }
    std::vector<int64_t> order(nbBlocks);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return score[a] > score[b]; });
    for (int64_t keep : {int64_t{0}, int64_t{1}, int64_t{37}, nbBlocks}) {
        std::vector<uint8_t> m(w.size());
        ASSERT_EQ(kiln_mask_block(w.data(), rows, cols, br, bc, keep, m.data()), KILN_OK);
        std::vector<uint8_t> kept(nbBlocks, 0);
        for (int64_t k = 0; k < keep; ++k) kept[order[k]] = 1;
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(m[r * cols + c], kept[(r / br) * (cols / bc) + c / bc]);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
TEST(Csr, PacksHandCheckedMatrixAndRoundTrips) {
    float w[] = {0, 2, 0, -0.0f, 0, 0, 3, 0, 4};
    int64_t nnz = -1;
    ASSERT_EQ(kiln_csr_count(w, 3, 3, &nnz), KILN_OK);
    ASSERT_EQ(nnz, 3);
    int64_t rowPtr[4];
    int32_t col[3];
    float val[3];
    ASSERT_EQ(kiln_csr_pack(w, 3, 3, rowPtr, col, val, nnz), KILN_OK);
    EXPECT_EQ(std::vector<int64_t>(rowPtr, rowPtr + 4), (std::vector<int64_t>{0, 1, 1, 3}));
    EXPECT_EQ(std::vector<int32_t>(col, col + 3), (std::vector<int32_t>{1, 0, 2}));
    EXPECT_EQ(std::vector<float>(val, val + 3), (std::vector<float>{2, 3, 4}));
    float back[9];
    ASSERT_EQ(kiln_csr_unpack(rowPtr, col, val, 3, 3, back), KILN_OK);
    for (int i = 0; i < 9; ++i) EXPECT_EQ(back[i], w[i] == 0.0f ? 0.0f : w[i]);
    expectInvalid(kiln_csr_pack(w, 3, 3, rowPtr, col, val, 2), "nnz");
    int32_t badCol[3] = {1, 5, 2};
    expectInvalid(kiln_csr_unpack(rowPtr, badCol, val, 3, 3, back), "col_idx");
    int64_t badPtr[4] = {0, 2, 1, 3};
    expectInvalid(kiln_csr_unpack(badPtr, col, val, 3, 3, back), "row_ptr");
    expectInvalid(kiln_csr_count(w, -3, 3, &nnz), "rows");
}

TEST(Bsr, PacksHandCheckedMatrixAndRoundTrips) {
    // 4x4, 2x2 blocks: only blocks (0,1) and (1,0) non-zero
    float w[] = {0, 0, 1, 0, 0, 0, 0, 2, 3, 0, 0, 0, 0, 4, 0, 0};
    int64_t nb = -1;
    ASSERT_EQ(kiln_bsr_count(w, 4, 4, 2, 2, &nb), KILN_OK);
    ASSERT_EQ(nb, 2);
    int64_t rowPtr[3];
    int32_t col[2];
    float val[8];
    ASSERT_EQ(kiln_bsr_pack(w, 4, 4, 2, 2, rowPtr, col, val, nb), KILN_OK);
    EXPECT_EQ(std::vector<int64_t>(rowPtr, rowPtr + 3), (std::vector<int64_t>{0, 1, 2}));
    EXPECT_EQ(std::vector<int32_t>(col, col + 2), (std::vector<int32_t>{1, 0}));
    EXPECT_EQ(std::vector<float>(val, val + 8), (std::vector<float>{1, 0, 0, 2, 3, 0, 0, 4}));
    float back[16];
    ASSERT_EQ(kiln_bsr_unpack(rowPtr, col, val, 4, 4, 2, 2, back), KILN_OK);
    EXPECT_EQ(std::vector<float>(back, back + 16), std::vector<float>(w, w + 16));
    expectInvalid(kiln_bsr_pack(w, 4, 4, 2, 2, rowPtr, col, val, 3), "nb_blocks");
    expectInvalid(kiln_bsr_count(w, 4, 4, 3, 2, &nb), "rows");
    int32_t badCol[2] = {2, 0};
    expectInvalid(kiln_bsr_unpack(rowPtr, badCol, val, 4, 4, 2, 2, back), "block_col");
}

TEST(SparseFormats, RandomRoundTrips) {
    const int64_t rows = 32, cols = 48;
    auto w = randomFloats(rows * cols, 13, 1.0f);
    for (size_t i = 0; i < w.size(); ++i)
        if (i % 3 != 0 || (i / cols) % 8 < 4) w[i] = 0.0f;
    int64_t nnz;
    ASSERT_EQ(kiln_csr_count(w.data(), rows, cols, &nnz), KILN_OK);
    std::vector<int64_t> rp(rows + 1);
    std::vector<int32_t> ci(nnz);
    std::vector<float> v(nnz), back(w.size());
    ASSERT_EQ(kiln_csr_pack(w.data(), rows, cols, rp.data(), ci.data(), v.data(), nnz), KILN_OK);
    ASSERT_EQ(kiln_csr_unpack(rp.data(), ci.data(), v.data(), rows, cols, back.data()), KILN_OK);
    EXPECT_EQ(back, w);
    int64_t nbBlocks;
    ASSERT_EQ(kiln_bsr_count(w.data(), rows, cols, 4, 4, &nbBlocks), KILN_OK);
    std::vector<int64_t> brp(rows / 4 + 1);
    std::vector<int32_t> bcol(nbBlocks);
    std::vector<float> bv(nbBlocks * 16);
    ASSERT_EQ(kiln_bsr_pack(w.data(), rows, cols, 4, 4, brp.data(), bcol.data(), bv.data(), nbBlocks), KILN_OK);
    ASSERT_EQ(kiln_bsr_unpack(brp.data(), bcol.data(), bv.data(), rows, cols, 4, 4, back.data()), KILN_OK);
    EXPECT_EQ(back, w);
}

// ---------------------------------------------------------------------------------------------------------------
TEST(Pack24, LayoutIsAsDocumented) {
    // one row, 3 groups (cols 12, meta 2 bytes): {0,a,0,b} {c,0,0,0} {0,0,0,0}
    float w[] = {0, 5, 0, 6, 7, 0, 0, 0, 0, 0, 0, 0};
    float v[6];
    uint8_t meta[2] = {0xaa, 0xaa};
    ASSERT_EQ(kiln_pack_2_4(w, 1, 12, v, meta), KILN_OK);
    EXPECT_EQ(std::vector<float>(v, v + 6), (std::vector<float>{5, 6, 7, 0, 0, 0}));
    EXPECT_EQ(meta[0], (1 | 3 << 2) | ((0 | 1 << 2) << 4));
    EXPECT_EQ(meta[1], (0 | 1 << 2));
    float back[12];
    ASSERT_EQ(kiln_unpack_2_4(v, meta, 1, 12, back), KILN_OK);
    EXPECT_EQ(std::vector<float>(back, back + 12), std::vector<float>(w, w + 12));
}

TEST(Pack24, EveryIsaRoundTripsRandomMatrices) {
    IsaGuard guard;
    const int64_t rows = 33, cols = 84;
    auto w = randomFloats(rows * cols, 14, 1.0f);
    std::vector<uint8_t> m(w.size());
    ASSERT_EQ(kiln_mask_n_m(w.data(), rows, cols, 1, 2, 4, m.data()), KILN_OK);
    for (size_t i = 0; i < w.size(); ++i) {
        if (!m[i] || i % 5 == 0) w[i] = 0.0f;  // also groups with fewer than 2 non-zeros
    }
    std::vector<float> ref;
    std::vector<uint8_t> refMeta;
    for (Isa isa : allIsas()) {
        kiln::cpu::setIsa(isa);
        std::vector<float> v(rows * cols / 2), back(w.size());
        std::vector<uint8_t> meta(rows * ((cols + 7) / 8));
        ASSERT_EQ(kiln_pack_2_4(w.data(), rows, cols, v.data(), meta.data()), KILN_OK);
        ASSERT_EQ(kiln_unpack_2_4(v.data(), meta.data(), rows, cols, back.data()), KILN_OK);
        EXPECT_EQ(back, w) << kiln_cpu_isa();
        if (ref.empty()) {
            ref = v;
            refMeta = meta;
        }
        EXPECT_EQ(v, ref) << kiln_cpu_isa();
        EXPECT_EQ(meta, refMeta) << kiln_cpu_isa();
    }
}

TEST(Pack24, BadArguments) {
    IsaGuard guard;
    float w[] = {1, 1, 1, 0, 0, 0, 0, 0};
    float v[4];
    uint8_t meta[1];
    for (Isa isa : allIsas()) {
        kiln::cpu::setIsa(isa);
        expectInvalid(kiln_pack_2_4(w, 1, 8, v, meta), "more than 2 non-zeros");
    }
    expectInvalid(kiln_pack_2_4(w, 1, 6, v, meta), "cols");
    expectInvalid(kiln_pack_2_4(nullptr, 1, 8, v, meta), "w");
    uint8_t badMeta[1] = {0x00};  // p0 == p1
    float out[8];
    expectInvalid(kiln_unpack_2_4(v, badMeta, 1, 8, out), "meta");
    expectInvalid(kiln_unpack_2_4(v, meta, 1, 8, nullptr), "w");
}

}  // namespace
