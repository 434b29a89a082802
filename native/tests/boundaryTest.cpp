// Every entry point of the C ABI fed what a caller must never pass: null pointers, negative and overflowing counts,
// NaN and infinite parameters, corrupt sparse indices. Each must return an error status with a message, never crash,
// read or write out of bounds (run under -DKILN_SANITIZE=ON, AddressSanitizer and UBSan check the latter).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int64_t kHuge = std::numeric_limits<int64_t>::max();

// The call failed cleanly: an error status and a message saying why.
void expectError(kiln_status s, const char* what) {
    EXPECT_NE(s, KILN_OK) << what;
    EXPECT_NE(s, KILN_ERR_INTERNAL) << what << ": an argument error must be reported as such: " << kiln_last_error();
    EXPECT_GT(std::string(kiln_last_error()).size(), 0u) << what;
}

TEST(Boundary, NullPointersAreErrors) {
    float f[16] = {};
    int64_t n[16] = {};
    int32_t q[16] = {};
    int32_t zp[4] = {};
    uint8_t m[16] = {};
    uint16_t h[16] = {};
    float one[4] = {1, 1, 1, 1};
    expectError(kiln_range_stats(nullptr, 4, f, n), "range_stats x");
    expectError(kiln_histogram(f, 4, 0.5f, 8, KILN_HIST_ABS, nullptr, nullptr), "histogram counts");
    expectError(kiln_histogram(f, 4, 0.5f, 8, KILN_HIST_SIGNED, n, nullptr), "histogram neg_counts");
    expectError(kiln_channel_absmax(nullptr, 1, 2, 2, f), "channel_absmax x");
    expectError(kiln_channel_absmax(f, 1, 2, 2, nullptr), "channel_absmax out");
    expectError(kiln_quantize(nullptr, 1, 1, 4, one, zp, -127, 127, q), "quantize x");
    expectError(kiln_quantize(f, 1, 1, 4, nullptr, zp, -127, 127, q), "quantize scale");
    expectError(kiln_quantize(f, 1, 1, 4, one, zp, -127, 127, nullptr), "quantize q");
    expectError(kiln_dequantize(nullptr, 1, 1, 4, one, zp, f), "dequantize q");
    expectError(kiln_dequantize(q, 1, 1, 4, one, zp, nullptr), "dequantize y");
    expectError(kiln_fake_quant(f, 1, 1, 4, nullptr, one, 8, 0, f), "fake_quant min");
    expectError(kiln_fake_quant(f, 1, 1, 4, one, nullptr, 8, 0, f), "fake_quant max");
    expectError(kiln_f32_to_f16(nullptr, 4, h), "f32_to_f16");
    expectError(kiln_f16_to_f32(h, 4, nullptr), "f16_to_f32");
    expectError(kiln_mask_magnitude(nullptr, 4, 2, m), "mask_magnitude w");
    expectError(kiln_mask_magnitude(f, 4, 2, nullptr), "mask_magnitude mask");
    expectError(kiln_mask_n_m(nullptr, 1, 4, 1, 2, 4, m), "mask_n_m");
    expectError(kiln_mask_block(f, 4, 4, 2, 2, 2, nullptr), "mask_block");
    expectError(kiln_check_n_m(f, 1, 4, 1, 2, 4, nullptr, n, 4), "check_n_m");
    expectError(kiln_csr_count(f, 2, 2, nullptr), "csr_count");
    expectError(kiln_csr_pack(f, 2, 2, nullptr, q, f, 1), "csr_pack");
    int64_t rowPtr[3] = {0, 1, 2};   // two entries, so the column indices are needed
    expectError(kiln_csr_unpack(rowPtr, nullptr, f, 2, 2, f), "csr_unpack");
    expectError(kiln_bsr_count(nullptr, 4, 4, 2, 2, n), "bsr_count");
    expectError(kiln_bsr_pack(f, 4, 4, 2, 2, n, nullptr, f, 1), "bsr_pack");
    expectError(kiln_bsr_unpack(nullptr, q, f, 4, 4, 2, 2, f), "bsr_unpack");
    expectError(kiln_pack_2_4(f, 1, 4, nullptr, m), "pack_2_4");
    expectError(kiln_unpack_2_4(f, nullptr, 1, 4, f), "unpack_2_4");
}

TEST(Boundary, NegativeAndOverflowingCountsAreErrors) {
    float f[16] = {};
    int64_t n[16] = {};
    int32_t q[16] = {};
    uint8_t m[16] = {};
    uint16_t h[16] = {};
    float one[4] = {1, 1, 1, 1};
    expectError(kiln_range_stats(f, -1, f, n), "range_stats nb < 0");
    expectError(kiln_histogram(f, -1, 0.5f, 8, KILN_HIST_ABS, n, nullptr), "histogram nb < 0");
    expectError(kiln_histogram(f, 4, 0.5f, -8, KILN_HIST_ABS, n, nullptr), "histogram bins < 0");
    expectError(kiln_histogram(f, 4, 0.5f, 8, 7, n, nullptr), "histogram mode");
    expectError(kiln_channel_absmax(f, -1, 2, 2, f), "channel_absmax outer < 0");
    expectError(kiln_channel_absmax(f, kHuge, kHuge, 2, f), "channel_absmax overflow");
    expectError(kiln_quantize(f, 1, -1, 4, one, nullptr, -127, 127, q), "quantize channels < 0");
    expectError(kiln_quantize(f, kHuge, 2, kHuge, one, nullptr, -127, 127, q), "quantize overflow");
    expectError(kiln_quantize(f, 1, 1, 4, one, nullptr, 127, -127, q), "quantize qmin > qmax");
    expectError(kiln_dequantize(q, 1, 1, -4, one, nullptr, f), "dequantize inner < 0");
    expectError(kiln_fake_quant(f, 1, 1, 4, one, one, 1, 0, f), "fake_quant 1 bit");
    expectError(kiln_fake_quant(f, 1, 1, 4, one, one, 99, 0, f), "fake_quant 99 bits");
    expectError(kiln_fake_quant(f, kHuge, kHuge, 1, one, one, 8, 0, f), "fake_quant overflow");
    expectError(kiln_f32_to_f16(f, -4, h), "f32_to_f16 nb < 0");
    expectError(kiln_mask_magnitude(f, 4, 5, m), "mask_magnitude keep > nb");
    expectError(kiln_mask_magnitude(f, 4, -1, m), "mask_magnitude keep < 0");
    expectError(kiln_mask_n_m(f, 1, 4, 1, 5, 4, m), "mask_n_m n > m");
    expectError(kiln_mask_n_m(f, 1, 4, 1, 2, 0, m), "mask_n_m m = 0");
    expectError(kiln_mask_n_m(f, kHuge, kHuge, 1, 2, 4, m), "mask_n_m overflow");
    expectError(kiln_mask_block(f, 4, 4, 0, 2, 2, m), "mask_block br = 0");
    expectError(kiln_mask_block(f, 4, 4, -2, 2, 2, m), "mask_block br < 0");
    expectError(kiln_mask_block(f, kHuge, kHuge, 2, 2, 2, m), "mask_block overflow");
    expectError(kiln_csr_count(f, -2, 2, n), "csr_count rows < 0");
    expectError(kiln_csr_count(f, kHuge, kHuge, n), "csr_count overflow");
    expectError(kiln_bsr_count(f, 4, 4, 0, 2, n), "bsr_count br = 0");
    expectError(kiln_pack_2_4(f, 1, 3, f, m), "pack_2_4 cols not a multiple of 4");
    expectError(kiln_pack_2_4(f, kHuge, kHuge, f, m), "pack_2_4 overflow");
    expectError(kiln_set_threads(-3), "set_threads < 0");
}

TEST(Boundary, NanAndInfiniteParametersAreErrors) {
    float f[4] = {1, 2, 3, 4};
    int64_t c[8] = {};
    int32_t q[4] = {};
    float y[4] = {};
    for (float bad : {kNan, kInf, -kInf, 0.0f, -1.0f}) {
        float scale[1] = {bad};
        expectError(kiln_histogram(f, 4, bad, 8, KILN_HIST_ABS, c, nullptr), "histogram inv_range");
        expectError(kiln_quantize(f, 1, 1, 4, scale, nullptr, -127, 127, q), "quantize scale");
        expectError(kiln_dequantize(q, 1, 1, 4, scale, nullptr, y), "dequantize scale");
    }
    float lo[1] = {0.0f};
    float nan1[1] = {kNan};
    float inf1[1] = {kInf};
    expectError(kiln_fake_quant(f, 1, 1, 4, nan1, inf1, 8, 0, y), "fake_quant NaN min");
    expectError(kiln_fake_quant(f, 1, 1, 4, lo, nan1, 8, 0, y), "fake_quant NaN max");
    expectError(kiln_fake_quant(f, 1, 1, 4, lo, inf1, 8, 0, y), "fake_quant infinite max");
}

TEST(Boundary, NanAndInfiniteDataGiveDefinedResults) {
    // data (not parameters) may hold anything: the kernels count or skip it, and never crash
    float x[8] = {kNan, kInf, -kInf, 1.0f, -2.0f, 0.0f, kNan, 3.0f};
    float f[3];
    int64_t n[4];
    ASSERT_EQ(kiln_range_stats(x, 8, f, n), KILN_OK) << kiln_last_error();
    int64_t counts[8] = {};
    ASSERT_EQ(kiln_histogram(x, 8, 2.0f, 8, KILN_HIST_ABS, counts, nullptr), KILN_OK) << kiln_last_error();
    float absmax[1];
    ASSERT_EQ(kiln_channel_absmax(x, 1, 1, 8, absmax), KILN_OK) << kiln_last_error();
    float scale[1] = {0.1f};
    int32_t zp[1] = {0};
    int32_t q[8];
    ASSERT_EQ(kiln_quantize(x, 1, 1, 8, scale, zp, -127, 127, q), KILN_OK) << kiln_last_error();
    for (int32_t v : q) {
        EXPECT_GE(v, -127);
        EXPECT_LE(v, 127);
    }
    uint8_t mask[8];
    // pruning NaN weights has no meaning: refused with a message naming the element
    EXPECT_EQ(kiln_mask_magnitude(x, 8, 4, mask), KILN_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(kiln_last_error()).find("NaN"), std::string::npos) << kiln_last_error();
    uint16_t h[8];
    ASSERT_EQ(kiln_f32_to_f16(x, 8, h), KILN_OK) << kiln_last_error();
}

TEST(Boundary, CorruptSparseIndicesAreErrorsNotOutOfBoundsWrites) {
    // indices as a packed-weights file could hold them: they must be checked before anything is written
    std::vector<float> w(4 * 4, -1.0f);
    float values[4] = {1, 2, 3, 4};
    int64_t rowPtrBackwards[5] = {0, 3, 1, 4, 4};
    int32_t cols[4] = {0, 1, 2, 3};
    expectError(kiln_csr_unpack(rowPtrBackwards, cols, values, 4, 4, w.data()), "csr row_ptr decreasing");
    int64_t rowPtr[5] = {0, 1, 2, 3, 4};
    int32_t colsOut[4] = {0, 1, 99, 3};
    expectError(kiln_csr_unpack(rowPtr, colsOut, values, 4, 4, w.data()), "csr col out of range");
    int32_t colsNeg[4] = {0, -1, 2, 3};
    expectError(kiln_csr_unpack(rowPtr, colsNeg, values, 4, 4, w.data()), "csr col negative");
    int64_t rowPtrStart[5] = {1, 1, 2, 3, 4};
    expectError(kiln_csr_unpack(rowPtrStart, cols, values, 4, 4, w.data()), "csr row_ptr[0] != 0");

    int64_t blockRowPtr[3] = {0, 1, 2};
    int32_t blockColOut[2] = {0, 7};
    float blockValues[8] = {};
    expectError(kiln_bsr_unpack(blockRowPtr, blockColOut, blockValues, 4, 4, 2, 2, w.data()), "bsr col out of range");
    int64_t blockRowPtrBad[3] = {0, 2, 1};
    int32_t blockCol[2] = {0, 1};
    expectError(kiln_bsr_unpack(blockRowPtrBad, blockCol, blockValues, 4, 4, 2, 2, w.data()), "bsr row_ptr");

    uint8_t badMeta[4] = {0xff, 0xff, 0xff, 0xff};   // 2:4 metadata naming the same position twice
    float v2[8] = {};
    kiln_status s = kiln_unpack_2_4(v2, badMeta, 1, 16, w.data());
    if (s != KILN_OK) {
        EXPECT_GT(std::string(kiln_last_error()).size(), 0u);
    }
}

}  // namespace
