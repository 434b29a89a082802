// Sparsity: magnitude, N:M and block masks; the N:M checker; CSR, BSR and 2:4 packing.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "kilnCommon.h"

namespace kiln {
namespace cpu {
namespace {

inline uint32_t absKey(float w) {  // |w| as an unsigned key: same order as |w| for non-NaN floats
    uint32_t b;
    std::memcpy(&b, &w, 4);
    return b & 0x7fffffffu;
}

void checkNoNan(const float* w, int64_t nb, const char* name) {
    for (int64_t i = 0; i < nb; ++i) {
        KILN_CHECK(!std::isnan(w[i]), "%s[%lld] is NaN", name, static_cast<long long>(i));
    }
}

struct NmView {
    int64_t mOuter;
    int64_t mLen;
    int64_t mInner;
    int64_t mTotal;
};

NmView checkNm(const float* w, int64_t outer, int64_t len, int64_t inner, int32_t n, int32_t m) {
    KILN_CHECK_COUNT(outer);
    KILN_CHECK_COUNT(len);
    KILN_CHECK_COUNT(inner);
    KILN_CHECK(m >= 1 && m <= 16, "m must be in 1..16, got %d", m);
    KILN_CHECK(n >= 1 && n <= m, "n must be in 1..m (m=%d), got %d", m, n);
    KILN_CHECK(len % m == 0, "len (%lld) must be a multiple of m (%d)", static_cast<long long>(len), m);
    int64_t total = checkedProduct(checkedProduct(outer, len, "outer * len"), inner, "tensor size");
    KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
    return NmView{outer, len, inner, total};
}

void checkMatrix(int64_t rows, int64_t cols) {
    KILN_CHECK_COUNT(rows);
    KILN_CHECK(cols >= 0 && cols <= std::numeric_limits<int32_t>::max(), "cols must be in 0..2^31-1, got %lld",
               static_cast<long long>(cols));
    checkedProduct(rows, cols, "rows * cols");
}

void checkBlocks(int64_t rows, int64_t cols, int32_t br, int32_t bc) {
    checkMatrix(rows, cols);
    KILN_CHECK(br >= 1, "br must be >= 1, got %d", br);
    KILN_CHECK(bc >= 1, "bc must be >= 1, got %d", bc);
    KILN_CHECK(rows % br == 0, "rows (%lld) must be a multiple of br (%d)", static_cast<long long>(rows), br);
    KILN_CHECK(cols % bc == 0, "cols (%lld) must be a multiple of bc (%d)", static_cast<long long>(cols), bc);
}

bool blockNonZero(const float* w, int64_t cols, int64_t r0, int64_t c0, int32_t br, int32_t bc) {
    for (int32_t i = 0; i < br; ++i) {
        const float* row = w + (r0 + i) * cols + c0;
        for (int32_t j = 0; j < bc; ++j) {
            if (row[j] != 0.0f) return true;
        }
    }
    return false;
}

// ---- 2:4 ----
// Group nibble for each 4-bit non-zero pattern: p0 | p1 << 2, or 0xff when more than 2 are non-zero. With fewer
// than 2 non-zeros the lowest free positions are added.
struct Lut24 {
    uint8_t mNibble[16];
    uint8_t mP0[16];
    uint8_t mP1[16];
    alignas(16) int32_t mPerm[256][4];  // two groups (8 floats) -> the 4 kept floats
    uint8_t mMeta[256];
    bool mBad[256];
    Lut24() {
        for (int pat = 0; pat < 16; ++pat) {
            int nz = __builtin_popcount(pat);
            if (nz > 2) {
                mNibble[pat] = 0xff;
                mP0[pat] = mP1[pat] = 0;
                continue;
            }
            int sel = pat;
            for (int p = 0; p < 4 && __builtin_popcount(sel) < 2; ++p) {
                if (!(sel & (1 << p))) sel |= 1 << p;
            }
            int p0 = __builtin_ctz(sel);
            int p1 = __builtin_ctz(sel & ~(1 << p0));
            mP0[pat] = static_cast<uint8_t>(p0);
            mP1[pat] = static_cast<uint8_t>(p1);
            mNibble[pat] = static_cast<uint8_t>(p0 | (p1 << 2));
        }
        for (int b = 0; b < 256; ++b) {
            int lo = b & 15, hi = b >> 4;
            mBad[b] = mNibble[lo] == 0xff || mNibble[hi] == 0xff;
            mMeta[b] = mBad[b] ? 0 : static_cast<uint8_t>(mNibble[lo] | (mNibble[hi] << 4));
            mPerm[b][0] = mP0[lo];
            mPerm[b][1] = mP1[lo];
            mPerm[b][2] = 4 + mP0[hi];
            mPerm[b][3] = 4 + mP1[hi];
        }
    }
};

const Lut24& lut24() {
    static const Lut24 kLut;
    return kLut;
}

inline int nzPattern4(const float* g) {
    return (g[0] != 0.0f ? 1 : 0) | (g[1] != 0.0f ? 2 : 0) | (g[2] != 0.0f ? 4 : 0) | (g[3] != 0.0f ? 8 : 0);
}

[[noreturn]] void bad24(int64_t r, int64_t g) {
    throw ArgumentError{fail(KILN_ERR_INVALID_ARGUMENT,
                             "w is not 2:4: row %lld, group %lld (columns %lld..%lld) has more than 2 non-zeros",
                             static_cast<long long>(r), static_cast<long long>(g), static_cast<long long>(4 * g),
                             static_cast<long long>(4 * g + 3))};
}

// Packs groups [g0, nbGroups) of one row with the scalar table.
void pack24RowScalar(const float* w, int64_t r, int64_t g0, int64_t nbGroups, float* values, uint8_t* meta) {
    const Lut24& lut = lut24();
    for (int64_t g = g0; g < nbGroups; ++g) {
        const float* grp = w + 4 * g;
        int pat = nzPattern4(grp);
        if (lut.mNibble[pat] == 0xff) bad24(r, g);
        values[2 * g] = grp[lut.mP0[pat]];
        values[2 * g + 1] = grp[lut.mP1[pat]];
        if ((g & 1) == 0) {
            meta[g >> 1] = lut.mNibble[pat];
        } else {
            meta[g >> 1] = static_cast<uint8_t>(meta[g >> 1] | (lut.mNibble[pat] << 4));
        }
    }
}

__attribute__((target("avx2"))) void pack24RowAvx2(const float* w, int64_t r, int64_t nbGroups, float* values,
                                                   uint8_t* meta) {
    const Lut24& lut = lut24();
    const __m256 zero = _mm256_setzero_ps();
    int64_t g = 0;
    for (; g + 2 <= nbGroups; g += 2) {
        __m256 v = _mm256_loadu_ps(w + 4 * g);
        int pat = _mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ));
        if (__builtin_expect(lut.mBad[pat], 0)) pack24RowScalar(w, r, g, g + 2, values, meta);  // throws
        __m256i perm = _mm256_castsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(lut.mPerm[pat])));
        __m256 kept = _mm256_permutevar8x32_ps(v, perm);
        _mm_storeu_ps(values + 2 * g, _mm256_castps256_ps128(kept));
        meta[g >> 1] = lut.mMeta[pat];
    }
    pack24RowScalar(w, r, g, nbGroups, values, meta);
}

}  // namespace
}  // namespace cpu
}  // namespace kiln

using namespace kiln;
using namespace kiln::cpu;

extern "C" {

KILN_API kiln_status kiln_mask_magnitude(const float* w, int64_t nb, int64_t nb_keep, uint8_t* mask) {
    KILN_ENTRY {
        KILN_CHECK_COUNT(nb);
        KILN_CHECK(nb == 0 || w != nullptr, "w must not be null");
        KILN_CHECK(nb == 0 || mask != nullptr, "mask must not be null");
        KILN_CHECK(nb_keep >= 0 && nb_keep <= nb, "nb_keep must be in 0..nb (%lld), got %lld",
                   static_cast<long long>(nb), static_cast<long long>(nb_keep));
        checkNoNan(w, nb, "w");
        if (nb_keep == 0 || nb_keep == nb) {
            std::memset(mask, nb_keep == 0 ? 0 : 1, static_cast<size_t>(nb));
            return KILN_OK;
        }
        // Threshold key T = the nb_keep-th largest |w|; keep every key > T and the first (by index) keys == T.
        std::vector<uint32_t> keys(static_cast<size_t>(nb));
        for (int64_t i = 0; i < nb; ++i) keys[i] = absKey(w[i]);
        std::nth_element(keys.begin(), keys.begin() + (nb_keep - 1), keys.end(), std::greater<uint32_t>());
        const uint32_t t = keys[nb_keep - 1];
        int64_t greater = 0;
        for (int64_t i = 0; i < nb; ++i) greater += absKey(w[i]) > t ? 1 : 0;
        int64_t equalLeft = nb_keep - greater;
        for (int64_t i = 0; i < nb; ++i) {
            uint32_t k = absKey(w[i]);
            uint8_t keep = k > t ? 1 : 0;
            if (k == t && equalLeft > 0) {
                keep = 1;
                --equalLeft;
            }
            mask[i] = keep;
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_mask_n_m(const float* w, int64_t outer, int64_t len, int64_t inner, int32_t n, int32_t m,
                                   uint8_t* mask) {
    KILN_ENTRY {
        NmView v = checkNm(w, outer, len, inner, n, m);
        KILN_CHECK(v.mTotal == 0 || mask != nullptr, "mask must not be null");
        const int64_t nbGroups = len / m;
        uint32_t key[16];
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t g = 0; g < nbGroups; ++g) {
                for (int64_t i = 0; i < inner; ++i) {
                    const int64_t base = o * len * inner + g * m * inner + i;
                    for (int32_t j = 0; j < m; ++j) key[j] = absKey(w[base + j * inner]);
                    for (int32_t j = 0; j < m; ++j) {
                        int rank = 0;  // elements ahead of j: larger, or equal at a lower position
                        for (int32_t k = 0; k < m; ++k) rank += (key[k] > key[j] || (key[k] == key[j] && k < j)) ? 1 : 0;
                        mask[base + j * inner] = rank < n ? 1 : 0;
                    }
                }
            }
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_mask_block(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                     int64_t nb_keep, uint8_t* mask) {
    KILN_ENTRY {
        checkBlocks(rows, cols, br, bc);
        const int64_t total = rows * cols;
        KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
        KILN_CHECK(total == 0 || mask != nullptr, "mask must not be null");
        const int64_t blockRows = rows / br, blockCols = cols / bc, nbBlocks = blockRows * blockCols;
        KILN_CHECK(nb_keep >= 0 && nb_keep <= nbBlocks, "nb_keep must be in 0..%lld (the number of blocks), got %lld",
                   static_cast<long long>(nbBlocks), static_cast<long long>(nb_keep));
        std::vector<double> score(static_cast<size_t>(nbBlocks), 0.0);
        for (int64_t b = 0; b < nbBlocks; ++b) {
            const int64_t r0 = (b / blockCols) * br, c0 = (b % blockCols) * bc;
            double s = 0.0;
            for (int32_t i = 0; i < br; ++i) {
                const float* row = w + (r0 + i) * cols + c0;
                for (int32_t j = 0; j < bc; ++j) s += static_cast<double>(row[j]) * static_cast<double>(row[j]);
            }
            score[b] = s;
        }
        std::vector<int64_t> order(static_cast<size_t>(nbBlocks));
        std::iota(order.begin(), order.end(), 0);
        // Score order as Java's Double.compare (a NaN score, from NaN weights, ranks above everything), then index.
        auto ahead = [&score](int64_t a, int64_t b) {
            const bool nanA = std::isnan(score[a]), nanB = std::isnan(score[b]);
            if (nanA != nanB) return nanA;
            if (!nanA && score[a] != score[b]) return score[a] > score[b];
            return a < b;
        };
        if (nb_keep > 0 && nb_keep < nbBlocks) {
            std::nth_element(order.begin(), order.begin() + (nb_keep - 1), order.end(), ahead);
        }
        // nth_element leaves the nb_keep-th block of the strict order at nb_keep - 1: keep it and all ahead of it.
        std::vector<uint8_t> keep(static_cast<size_t>(nbBlocks), nb_keep == nbBlocks ? 1 : 0);
        if (nb_keep > 0 && nb_keep < nbBlocks) {
            const int64_t pivot = order[nb_keep - 1];
            for (int64_t b = 0; b < nbBlocks; ++b) keep[b] = (b == pivot || ahead(b, pivot)) ? 1 : 0;
        }
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < cols; ++c) mask[r * cols + c] = keep[(r / br) * blockCols + c / bc];
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_check_n_m(const float* w, int64_t outer, int64_t len, int64_t inner, int32_t n, int32_t m,
                                    int64_t* nb_bad, int64_t* first_bad, int64_t max_report) {
    KILN_ENTRY {
        NmView v = checkNm(w, outer, len, inner, n, m);
        KILN_CHECK_PTR(nb_bad);
        KILN_CHECK_COUNT(max_report);
        KILN_CHECK(max_report == 0 || first_bad != nullptr, "first_bad must not be null when max_report > 0");
        (void)v;
        const int64_t nbGroups = len / m;
        int64_t bad = 0;
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t g = 0; g < nbGroups; ++g) {
                for (int64_t i = 0; i < inner; ++i) {
                    const int64_t base = o * len * inner + g * m * inner + i;
                    int nz = 0;
                    for (int32_t j = 0; j < m; ++j) nz += w[base + j * inner] != 0.0f ? 1 : 0;
                    if (nz > n) {
                        if (bad < max_report) first_bad[bad] = base;
                        ++bad;
                    }
                }
            }
        }
        *nb_bad = bad;
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_csr_count(const float* w, int64_t rows, int64_t cols, int64_t* nnz) {
    KILN_ENTRY {
        checkMatrix(rows, cols);
        const int64_t total = rows * cols;
        KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
        KILN_CHECK_PTR(nnz);
        int64_t count = 0;
        for (int64_t i = 0; i < total; ++i) count += w[i] != 0.0f ? 1 : 0;
        *nnz = count;
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_csr_pack(const float* w, int64_t rows, int64_t cols, int64_t* row_ptr, int32_t* col_idx,
                                   float* values, int64_t nnz) {
    KILN_ENTRY {
        checkMatrix(rows, cols);
        const int64_t total = rows * cols;
        KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
        KILN_CHECK_PTR(row_ptr);
        KILN_CHECK_COUNT(nnz);
        KILN_CHECK(nnz == 0 || (col_idx != nullptr && values != nullptr), "col_idx and values must not be null");
        int64_t actual = 0;
        for (int64_t i = 0; i < total; ++i) actual += w[i] != 0.0f ? 1 : 0;
        KILN_CHECK(actual == nnz, "nnz (%lld) does not match the matrix's non-zero count (%lld)",
                   static_cast<long long>(nnz), static_cast<long long>(actual));
        int64_t k = 0;
        row_ptr[0] = 0;
        for (int64_t r = 0; r < rows; ++r) {
            const float* row = w + r * cols;
            for (int64_t c = 0; c < cols; ++c) {
                if (row[c] != 0.0f) {
                    col_idx[k] = static_cast<int32_t>(c);
                    values[k] = row[c];
                    ++k;
                }
            }
            row_ptr[r + 1] = k;
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_csr_unpack(const int64_t* row_ptr, const int32_t* col_idx, const float* values,
                                     int64_t rows, int64_t cols, float* w) {
    KILN_ENTRY {
        checkMatrix(rows, cols);
        KILN_CHECK_PTR(row_ptr);
        const int64_t total = rows * cols;
        KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
        KILN_CHECK(row_ptr[0] == 0, "row_ptr[0] must be 0, got %lld", static_cast<long long>(row_ptr[0]));
        for (int64_t r = 0; r < rows; ++r) {
            KILN_CHECK(row_ptr[r + 1] >= row_ptr[r] && row_ptr[r + 1] - row_ptr[r] <= cols,
                       "row_ptr is not non-decreasing with at most cols entries per row at row %lld",
                       static_cast<long long>(r));
        }
        const int64_t nnz = row_ptr[rows];
        KILN_CHECK(nnz == 0 || (col_idx != nullptr && values != nullptr), "col_idx and values must not be null");
        for (int64_t k = 0; k < nnz; ++k) {
            KILN_CHECK(col_idx[k] >= 0 && col_idx[k] < cols, "col_idx[%lld]=%d is outside 0..cols-1",
                       static_cast<long long>(k), col_idx[k]);
        }
        std::fill(w, w + total, 0.0f);
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) w[r * cols + col_idx[k]] = values[k];
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_bsr_count(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                    int64_t* nb_blocks) {
    KILN_ENTRY {
        checkBlocks(rows, cols, br, bc);
        KILN_CHECK(rows * cols == 0 || w != nullptr, "w must not be null");
        KILN_CHECK_PTR(nb_blocks);
        int64_t count = 0;
        for (int64_t r0 = 0; r0 < rows; r0 += br) {
            for (int64_t c0 = 0; c0 < cols; c0 += bc) count += blockNonZero(w, cols, r0, c0, br, bc) ? 1 : 0;
        }
        *nb_blocks = count;
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_bsr_pack(const float* w, int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                   int64_t* block_row_ptr, int32_t* block_col, float* values, int64_t nb_blocks) {
    KILN_ENTRY {
        checkBlocks(rows, cols, br, bc);
        KILN_CHECK(rows * cols == 0 || w != nullptr, "w must not be null");
        KILN_CHECK_PTR(block_row_ptr);
        KILN_CHECK_COUNT(nb_blocks);
        KILN_CHECK(nb_blocks == 0 || (block_col != nullptr && values != nullptr),
                   "block_col and values must not be null");
        int64_t actual = 0;
        for (int64_t r0 = 0; r0 < rows; r0 += br) {
            for (int64_t c0 = 0; c0 < cols; c0 += bc) actual += blockNonZero(w, cols, r0, c0, br, bc) ? 1 : 0;
        }
        KILN_CHECK(actual == nb_blocks, "nb_blocks (%lld) does not match the matrix's non-zero block count (%lld)",
                   static_cast<long long>(nb_blocks), static_cast<long long>(actual));
        const int64_t blockSize = static_cast<int64_t>(br) * bc;
        int64_t k = 0;
        block_row_ptr[0] = 0;
        for (int64_t r0 = 0, br0 = 0; r0 < rows; r0 += br, ++br0) {
            for (int64_t c0 = 0; c0 < cols; c0 += bc) {
                if (!blockNonZero(w, cols, r0, c0, br, bc)) continue;
                block_col[k] = static_cast<int32_t>(c0 / bc);
                float* dst = values + k * blockSize;
                for (int32_t i = 0; i < br; ++i) std::memcpy(dst + i * bc, w + (r0 + i) * cols + c0, sizeof(float) * bc);
                ++k;
            }
            block_row_ptr[br0 + 1] = k;
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_bsr_unpack(const int64_t* block_row_ptr, const int32_t* block_col, const float* values,
                                     int64_t rows, int64_t cols, int32_t br, int32_t bc, float* w) {
    KILN_ENTRY {
        checkBlocks(rows, cols, br, bc);
        KILN_CHECK_PTR(block_row_ptr);
        const int64_t total = rows * cols;
        KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
        const int64_t blockRows = rows / br, blockCols = cols / bc;
        KILN_CHECK(block_row_ptr[0] == 0, "block_row_ptr[0] must be 0, got %lld",
                   static_cast<long long>(block_row_ptr[0]));
        for (int64_t r = 0; r < blockRows; ++r) {
            KILN_CHECK(block_row_ptr[r + 1] >= block_row_ptr[r] && block_row_ptr[r + 1] - block_row_ptr[r] <= blockCols,
                       "block_row_ptr is not non-decreasing with at most cols/bc blocks per row at block row %lld",
                       static_cast<long long>(r));
        }
        const int64_t nbBlocks = block_row_ptr[blockRows];
        KILN_CHECK(nbBlocks == 0 || (block_col != nullptr && values != nullptr),
                   "block_col and values must not be null");
        for (int64_t k = 0; k < nbBlocks; ++k) {
            KILN_CHECK(block_col[k] >= 0 && block_col[k] < blockCols, "block_col[%lld]=%d is outside 0..cols/bc-1",
                       static_cast<long long>(k), block_col[k]);
        }
        std::fill(w, w + total, 0.0f);
        const int64_t blockSize = static_cast<int64_t>(br) * bc;
        for (int64_t r = 0; r < blockRows; ++r) {
            for (int64_t k = block_row_ptr[r]; k < block_row_ptr[r + 1]; ++k) {
                const float* src = values + k * blockSize;
                for (int32_t i = 0; i < br; ++i) {
                    std::memcpy(w + (r * br + i) * cols + static_cast<int64_t>(block_col[k]) * bc, src + i * bc,
                                sizeof(float) * bc);
                }
            }
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_pack_2_4(const float* w, int64_t rows, int64_t cols, float* values, uint8_t* meta) {
    KILN_ENTRY {
        checkMatrix(rows, cols);
        KILN_CHECK(cols % 4 == 0, "cols (%lld) must be a multiple of 4", static_cast<long long>(cols));
        const int64_t total = rows * cols;
        KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
        KILN_CHECK(total == 0 || values != nullptr, "values must not be null");
        KILN_CHECK(total == 0 || meta != nullptr, "meta must not be null");
        const int64_t nbGroups = cols / 4, metaCols = (cols + 7) / 8, valueCols = cols / 2;
        const bool avx2 = isa() != Isa::kScalar;
        for (int64_t r = 0; r < rows; ++r) {
            uint8_t* metaRow = meta + r * metaCols;
            if (nbGroups % 2 == 1) metaRow[metaCols - 1] = 0;
            if (avx2) {
                pack24RowAvx2(w + r * cols, r, nbGroups, values + r * valueCols, metaRow);
            } else {
                pack24RowScalar(w + r * cols, r, 0, nbGroups, values + r * valueCols, metaRow);
            }
        }
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API kiln_status kiln_unpack_2_4(const float* values, const uint8_t* meta, int64_t rows, int64_t cols, float* w) {
    KILN_ENTRY {
        checkMatrix(rows, cols);
        KILN_CHECK(cols % 4 == 0, "cols (%lld) must be a multiple of 4", static_cast<long long>(cols));
        const int64_t total = rows * cols;
        KILN_CHECK(total == 0 || w != nullptr, "w must not be null");
        KILN_CHECK(total == 0 || values != nullptr, "values must not be null");
        KILN_CHECK(total == 0 || meta != nullptr, "meta must not be null");
        const int64_t nbGroups = cols / 4, metaCols = (cols + 7) / 8, valueCols = cols / 2;
        for (int64_t r = 0; r < rows; ++r) {
            const float* vr = values + r * valueCols;
            const uint8_t* mr = meta + r * metaCols;
            float* wr = w + r * cols;
            for (int64_t g = 0; g < nbGroups; ++g) {
                const int nib = (mr[g >> 1] >> ((g & 1) * 4)) & 15;
                const int p0 = nib & 3, p1 = nib >> 2;
                KILN_CHECK(p0 < p1, "meta row %lld group %lld: positions %d, %d are not increasing",
                           static_cast<long long>(r), static_cast<long long>(g), p0, p1);
                float* grp = wr + 4 * g;
                grp[0] = grp[1] = grp[2] = grp[3] = 0.0f;
                grp[p0] = vr[2 * g];
                grp[p1] = vr[2 * g + 1];
            }
        }
        return KILN_OK;
    }
    KILN_EXIT
}

}  // extern "C"
