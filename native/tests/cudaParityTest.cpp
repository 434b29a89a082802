// CUDA kernels against the CPU library: identical results on random data. Skipped, with the reason, where there is
// no CUDA device; the probe itself is tested everywhere (it must answer, not crash, on a machine without a GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "kiln/kilnCuda.h"

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

bool haveDevice(std::string* why) {
    int32_t n = 0;
    kiln_status s = kiln_cuda_device_count(&n);
    if (s != KILN_OK) *why = std::string("no CUDA device: ") + kiln_cuda_last_error();
    return s == KILN_OK && n > 0;
}

#define REQUIRE_DEVICE()                       \
    do {                                       \
        std::string why;                       \
        if (!haveDevice(&why)) GTEST_SKIP() << why; \
    } while (0)

std::vector<float> randomFloats(size_t n, uint32_t seed, float scale, bool specials) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::uniform_int_distribution<int> pick(0, 99);
    std::vector<float> v(n);
    for (auto& x : v) {
        x = dist(rng);
        if (specials) {
            int p = pick(rng);
            if (p == 0) x = std::numeric_limits<float>::quiet_NaN();
            if (p == 1) x = kInf;
            if (p == 2) x = -kInf;
            if (p == 3) x = -0.0f;
        }
    }
    return v;
}

uint32_t bits(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

int64_t floatMismatches(const std::vector<float>& a, const std::vector<float>& b) {
    int64_t bad = 0;
    for (size_t i = 0; i < a.size(); ++i) bad += ((std::isnan(a[i]) && std::isnan(b[i])) || bits(a[i]) == bits(b[i])) ? 0 : 1;
    return bad;
}

TEST(CudaProbe, AnswersWithoutCrashing) {
    EXPECT_EQ(kiln_cuda_abi_version(), KILN_ABI_VERSION);
    int32_t n = -1;
    kiln_status s = kiln_cuda_device_count(&n);
    EXPECT_TRUE(s == KILN_OK || s == KILN_ERR_NO_DEVICE) << s << " " << kiln_cuda_last_error();
    if (s == KILN_OK) {
        EXPECT_GT(n, 0);
        char name[256];
        EXPECT_EQ(kiln_cuda_device_name(0, name, sizeof(name)), KILN_OK);
        EXPECT_GT(std::strlen(name), 0u);
    } else {
        EXPECT_EQ(n, 0);
        EXPECT_GT(std::strlen(kiln_cuda_last_error()), 0u);
    }
    EXPECT_EQ(kiln_cuda_device_count(nullptr), KILN_ERR_INVALID_ARGUMENT);
}

TEST(CudaArguments, BadArgumentsAreRejectedWithoutADevice) {
    int32_t n = 0;
    if (kiln_cuda_device_count(&n) != KILN_OK && std::string(kiln_cuda_last_error()).find("without CUDA") != std::string::npos) {
        GTEST_SKIP() << kiln_cuda_last_error();
    }
    float x[4] = {1, 2, 3, 4};
    int64_t c[8];
    EXPECT_EQ(kiln_cuda_histogram(x, 4, 0.5f, 7, KILN_HIST_ABS, c, nullptr), KILN_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(kiln_cuda_last_error()).find("nb_bins"), std::string::npos);
    float mn = 1.0f, mx = 0.0f, y[4];
    EXPECT_EQ(kiln_cuda_fake_quant(x, 1, 1, 4, &mn, &mx, 8, 0, y), KILN_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(kiln_cuda_pack_2_4(x, 1, 3, y, nullptr), KILN_ERR_INVALID_ARGUMENT);
}

TEST(CudaParity, RangeStatsAndHistogram) {
    REQUIRE_DEVICE();
    auto x = randomFloats(1000003, 1, 3.0f, true);
    float fc[3], fg[3];
    int64_t nc[4], ng[4];
    ASSERT_EQ(kiln_range_stats(x.data(), x.size(), fc, nc), KILN_OK);
    ASSERT_EQ(kiln_cuda_range_stats(x.data(), x.size(), fg, ng), KILN_OK) << kiln_cuda_last_error();
    for (int k = 0; k < 3; ++k) EXPECT_EQ(bits(fc[k]), bits(fg[k])) << k;
    for (int k = 0; k < 4; ++k) EXPECT_EQ(nc[k], ng[k]) << k;
    for (int mode : {KILN_HIST_ABS, KILN_HIST_SIGNED}) {
        for (int32_t bins : {2048, 8192, 65536}) {
            std::vector<int64_t> c1(bins, 3), n1(bins, 0), c2(bins, 3), n2(bins, 0);
            ASSERT_EQ(kiln_histogram(x.data(), x.size(), 0.125f, bins, mode, c1.data(), n1.data()), KILN_OK);
            ASSERT_EQ(kiln_cuda_histogram(x.data(), x.size(), 0.125f, bins, mode, c2.data(), n2.data()), KILN_OK)
                << kiln_cuda_last_error();
            EXPECT_EQ(c1, c2) << bins;
            EXPECT_EQ(n1, n2) << bins;
        }
    }
    std::vector<float> a1(37), a2(37);
    ASSERT_EQ(kiln_channel_absmax(x.data(), 1000, 37, 27, a1.data()), KILN_OK);
    ASSERT_EQ(kiln_cuda_channel_absmax(x.data(), 1000, 37, 27, a2.data()), KILN_OK);
    EXPECT_EQ(floatMismatches(a1, a2), 0);
}

TEST(CudaParity, Quantization) {
    REQUIRE_DEVICE();
    const int64_t outer = 100, ch = 13, inner = 257;
    auto x = randomFloats(outer * ch * inner, 2, 3.0f, true);
    std::vector<float> scale(ch), mn(ch), mx(ch);
    std::vector<int32_t> zp(ch);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-4.0f, 4.0f);
    for (int64_t c = 0; c < ch; ++c) {
        scale[c] = 0.001f + std::fabs(u(rng)) / 100.0f;
        zp[c] = static_cast<int32_t>(c) - 6;
        float a = u(rng), b = u(rng);
        mn[c] = std::min(a, b);
        mx[c] = std::max(a, b);
    }
    for (auto shape : {std::vector<int64_t>{outer, ch, inner}, std::vector<int64_t>{outer * inner, ch, 1}}) {
        std::vector<int32_t> q1(x.size()), q2(x.size());
        ASSERT_EQ(kiln_quantize(x.data(), shape[0], ch, shape[2], scale.data(), zp.data(), -128, 127, q1.data()), KILN_OK);
        ASSERT_EQ(kiln_cuda_quantize(x.data(), shape[0], ch, shape[2], scale.data(), zp.data(), -128, 127, q2.data()), KILN_OK);
        EXPECT_EQ(q1, q2);
        std::vector<float> y1(x.size()), y2(x.size());
        ASSERT_EQ(kiln_dequantize(q1.data(), shape[0], ch, shape[2], scale.data(), zp.data(), y1.data()), KILN_OK);
        ASSERT_EQ(kiln_cuda_dequantize(q1.data(), shape[0], ch, shape[2], scale.data(), zp.data(), y2.data()), KILN_OK);
        EXPECT_EQ(floatMismatches(y1, y2), 0);
        for (int bitsN : {2, 8, 16}) {
            for (int narrow : {0, 1}) {
                ASSERT_EQ(kiln_fake_quant(x.data(), shape[0], ch, shape[2], mn.data(), mx.data(), bitsN, narrow, y1.data()), KILN_OK);
                ASSERT_EQ(kiln_cuda_fake_quant(x.data(), shape[0], ch, shape[2], mn.data(), mx.data(), bitsN, narrow, y2.data()), KILN_OK);
                EXPECT_EQ(floatMismatches(y1, y2), 0) << bitsN << " " << narrow;
            }
        }
    }
    std::vector<uint16_t> h1(x.size()), h2(x.size());
    ASSERT_EQ(kiln_f32_to_f16(x.data(), x.size(), h1.data()), KILN_OK);
    ASSERT_EQ(kiln_cuda_f32_to_f16(x.data(), x.size(), h2.data()), KILN_OK);
    EXPECT_EQ(h1, h2);
    std::vector<uint16_t> all(65536);
    for (int i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
    std::vector<float> f1(65536), f2(65536);
    ASSERT_EQ(kiln_f16_to_f32(all.data(), 65536, f1.data()), KILN_OK);
    ASSERT_EQ(kiln_cuda_f16_to_f32(all.data(), 65536, f2.data()), KILN_OK);
    for (int i = 0; i < 65536; ++i) ASSERT_EQ(bits(f1[i]), bits(f2[i])) << i;
}

TEST(CudaParity, Sparsity) {
    REQUIRE_DEVICE();
    const int64_t outer = 64, len = 96, inner = 5;
    auto w = randomFloats(outer * len * inner, 4, 1.0f, false);
    std::vector<uint8_t> m1(w.size()), m2(w.size());
    ASSERT_EQ(kiln_mask_n_m(w.data(), outer, len, inner, 2, 4, m1.data()), KILN_OK);
    ASSERT_EQ(kiln_cuda_mask_n_m(w.data(), outer, len, inner, 2, 4, m2.data()), KILN_OK);
    EXPECT_EQ(m1, m2);
    int64_t b1, b2;
    std::vector<int64_t> f1(50), f2(50);
    ASSERT_EQ(kiln_check_n_m(w.data(), outer, len, inner, 2, 4, &b1, f1.data(), 50), KILN_OK);
    ASSERT_EQ(kiln_cuda_check_n_m(w.data(), outer, len, inner, 2, 4, &b2, f2.data(), 50), KILN_OK);
    EXPECT_EQ(b1, b2);
    EXPECT_EQ(f1, f2);
    // 2:4 on a [rows, cols] matrix with cols % 8 == 4
    const int64_t rows = 128, cols = 36;
    auto w2 = randomFloats(rows * cols, 5, 1.0f, false);
    std::vector<uint8_t> mk(w2.size());
    ASSERT_EQ(kiln_mask_n_m(w2.data(), rows, cols, 1, 2, 4, mk.data()), KILN_OK);
    for (size_t i = 0; i < w2.size(); ++i) {
        if (!mk[i] || i % 7 == 0) w2[i] = 0.0f;
    }
    std::vector<float> v1(rows * cols / 2), v2(rows * cols / 2), back(w2.size());
    std::vector<uint8_t> me1(rows * ((cols + 7) / 8)), me2(me1.size());
    ASSERT_EQ(kiln_pack_2_4(w2.data(), rows, cols, v1.data(), me1.data()), KILN_OK);
    ASSERT_EQ(kiln_cuda_pack_2_4(w2.data(), rows, cols, v2.data(), me2.data()), KILN_OK) << kiln_cuda_last_error();
    EXPECT_EQ(floatMismatches(v1, v2), 0);
    EXPECT_EQ(me1, me2);
    ASSERT_EQ(kiln_cuda_unpack_2_4(v2.data(), me2.data(), rows, cols, back.data()), KILN_OK);
    EXPECT_EQ(floatMismatches(back, w2), 0);
    EXPECT_EQ(kiln_cuda_pack_2_4(w.data(), 1, 96, v1.data(), me1.data()), KILN_ERR_INVALID_ARGUMENT);
}

}  // namespace
