// Multi-threaded kernels (kiln_set_threads): N threads give the same bits as 1 thread, for every ISA, on awkward
// sizes (not multiples of the chunk size) with NaN, +-Inf and signed zeros present.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cpu/kilnCommon.h"
#include "cpu/kilnThreads.h"
#include "kiln/kiln.h"

namespace {

using kiln::cpu::Isa;
using kiln::cpu::kChunkElements;
using kiln::cpu::kParallelThreshold;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// Thread counts compared with 1: 2 and 3 (3 does not divide the chunk counts), 8 (more than this machine has).
const int kThreadCounts[] = {2, 3, 8};

// Sizes: just below the threshold (one thread whatever the setting), just above it, and odd sizes spanning many
// chunks with a partial last chunk.
const int64_t kSizes[] = {kParallelThreshold - 1, kParallelThreshold + 1, 5 * kChunkElements + 12345,
                          11 * kChunkElements - 3};

std::vector<Isa> allIsas() {
    std::vector<Isa> out{Isa::kScalar};
    if (static_cast<int>(kiln::cpu::detectedIsa()) >= static_cast<int>(Isa::kAvx2)) out.push_back(Isa::kAvx2);
    if (kiln::cpu::detectedIsa() == Isa::kAvx512) out.push_back(Isa::kAvx512);
    return out;
}

// Restores the ISA and the thread count.
struct Guard {
    Isa mSavedIsa = kiln::cpu::isa();
    ~Guard() {
        kiln::cpu::setIsa(mSavedIsa);
        kiln_set_threads(0);
    }
};

std::vector<float> randomFloats(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    std::uniform_int_distribution<int> pick(0, 999);
    std::vector<float> v(n);
    for (auto& x : v) {
        x = dist(rng);
        const int p = pick(rng);
        if (p == 0) x = kNan;
        if (p == 1) x = kInf;
        if (p == 2) x = -kInf;
        if (p == 3) x = -0.0f;
        if (p == 4) x = 0.0f;
        if (p == 5) x = 1e30f;  // lands in the last bin
    }
    return v;
}

std::vector<uint32_t> bitsOf(const std::vector<float>& v) {
    std::vector<uint32_t> out(v.size());
    std::memcpy(out.data(), v.data(), v.size() * 4);
    return out;
}

TEST(Threads, SetGetAndBadArguments) {
    Guard guard;
    EXPECT_GE(kiln_threads(), 1);
    ASSERT_EQ(kiln_set_threads(3), KILN_OK);
    EXPECT_EQ(kiln_threads(), 3);
    ASSERT_EQ(kiln_set_threads(0), KILN_OK);
    EXPECT_EQ(kiln_threads(), kiln::cpu::defaultThreads());
    EXPECT_EQ(kiln_set_threads(-1), KILN_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(kiln_last_error()).find("nb_threads"), std::string::npos);
    EXPECT_EQ(kiln_set_threads(kiln::cpu::kMaxThreads + 1), KILN_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(kiln_threads(), kiln::cpu::defaultThreads());
}

TEST(Threads, WorkersOnlyAboveTheThreshold) {
    Guard guard;
    ASSERT_EQ(kiln_set_threads(4), KILN_OK);
    EXPECT_EQ(kiln::cpu::workersFor(kParallelThreshold - 1, 100), 1);
    EXPECT_EQ(kiln::cpu::workersFor(kParallelThreshold, 100), 4);
    EXPECT_EQ(kiln::cpu::workersFor(kParallelThreshold, 3), 3);
}

TEST(Threads, WorkerRangesCoverEveryUnitOnce) {
    for (int workers : {2, 3, 7}) {
        for (int64_t nb : {int64_t{1}, int64_t{5}, 3 * kChunkElements + 1, 10 * kChunkElements}) {
            std::vector<int> seen(static_cast<size_t>(nb), 0);
            kiln::cpu::forWorkerRanges(workers, nb, kChunkElements, [&](int, int64_t begin, int64_t end) {
                EXPECT_EQ(begin % kChunkElements, 0);
                for (int64_t i = begin; i < end; ++i) ++seen[static_cast<size_t>(i)];
            });
            for (int64_t i = 0; i < nb; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)], 1) << nb << " " << workers;
        }
    }
}

TEST(Threads, RangeStatsIdenticalForEveryThreadCount) {
    Guard guard;
    for (int64_t n : kSizes) {
        const auto x = randomFloats(static_cast<size_t>(n), 11);
        for (Isa isa : allIsas()) {
            kiln::cpu::setIsa(isa);
            ASSERT_EQ(kiln_set_threads(1), KILN_OK);
            float f1[3];
            int64_t n1[4];
            ASSERT_EQ(kiln_range_stats(x.data(), n, f1, n1), KILN_OK);
            for (int t : kThreadCounts) {
                ASSERT_EQ(kiln_set_threads(t), KILN_OK);
                float f[3];
                int64_t c[4];
                ASSERT_EQ(kiln_range_stats(x.data(), n, f, c), KILN_OK);
                EXPECT_EQ(0, std::memcmp(f, f1, sizeof f)) << kiln_cpu_isa() << " n " << n << " threads " << t;
                EXPECT_EQ(0, std::memcmp(c, n1, sizeof c)) << kiln_cpu_isa() << " n " << n << " threads " << t;
            }
        }
    }
}

TEST(Threads, HistogramIdenticalForEveryThreadCount) {
    Guard guard;
    for (int64_t n : {kParallelThreshold + 1, 11 * kChunkElements - 3}) {
        const auto x = randomFloats(static_cast<size_t>(n), 12);
        // 2048 bins (calibration), 8 bins (crowded), 2^18 bins (few workers: each needs 4 * bins elements)
        for (int32_t bins : {2048, 8, 1 << 18}) {
            for (int32_t mode : {KILN_HIST_ABS, KILN_HIST_SIGNED}) {
                for (Isa isa : allIsas()) {
                    kiln::cpu::setIsa(isa);
                    ASSERT_EQ(kiln_set_threads(1), KILN_OK);
                    std::vector<int64_t> c1(bins, 1), n1(bins, 2);  // counts are added to: start non-zero
                    ASSERT_EQ(kiln_histogram(x.data(), n, 0.125f, bins, mode, c1.data(), n1.data()), KILN_OK);
                    for (int t : kThreadCounts) {
                        ASSERT_EQ(kiln_set_threads(t), KILN_OK);
                        std::vector<int64_t> c(bins, 1), m(bins, 2);
                        ASSERT_EQ(kiln_histogram(x.data(), n, 0.125f, bins, mode, c.data(), m.data()), KILN_OK);
                        EXPECT_EQ(c, c1) << kiln_cpu_isa() << " n " << n << " bins " << bins << " threads " << t;
                        EXPECT_EQ(m, n1) << kiln_cpu_isa() << " n " << n << " bins " << bins << " threads " << t;
                    }
                }
            }
        }
    }
}

struct FqCase {
    int64_t mOuter;
    int64_t mChannels;
    int64_t mInner;
};

TEST(Threads, FakeQuantIdenticalForEveryThreadCount) {
    Guard guard;
    const int64_t big = 11 * kChunkElements - 3;
    // per tensor; per channel on the last axis (3, 64 channels: table path when streaming; 5000: wrapping path);
    // per channel on another axis with runs that cross worker boundaries; a size above the streaming threshold.
    const FqCase cases[] = {{1, 1, big},          {big / 3, 3, 1},          {big / 64, 64, 1},
                            {big / 5000, 5000, 1}, {3, 5, 250001},          {2, 7, kChunkElements + 1},
                            {1, 1, (int64_t{4} << 20) + 37},               {(int64_t{4} << 20) / 64 + 3, 64, 1}};
    for (const FqCase& fc : cases) {
        const int64_t n = fc.mOuter * fc.mChannels * fc.mInner;
        const auto x = randomFloats(static_cast<size_t>(n + 1), 13);
        std::vector<float> mn(fc.mChannels), mx(fc.mChannels);
        for (int64_t c = 0; c < fc.mChannels; ++c) {
            mn[c] = -1.0f - 0.1f * static_cast<float>(c % 7);
            mx[c] = 0.5f + 0.3f * static_cast<float>(c % 5);
        }
        if (fc.mChannels > 1) mn[1] = mx[1] = 0.0f;  // TF's special case: the channel is 0
        for (Isa isa : allIsas()) {
            kiln::cpu::setIsa(isa);
            ASSERT_EQ(kiln_set_threads(1), KILN_OK);
            // from x + 1: y is not 64-byte aligned, as in a Java array
            std::vector<float> y1(static_cast<size_t>(n + 1));
            ASSERT_EQ(kiln_fake_quant(x.data() + 1, fc.mOuter, fc.mChannels, fc.mInner, mn.data(), mx.data(), 8, 0,
                                      y1.data() + 1),
                      KILN_OK);
            const auto ref = bitsOf(y1);
            for (int t : kThreadCounts) {
                ASSERT_EQ(kiln_set_threads(t), KILN_OK);
                std::vector<float> y(static_cast<size_t>(n + 1));
                ASSERT_EQ(kiln_fake_quant(x.data() + 1, fc.mOuter, fc.mChannels, fc.mInner, mn.data(), mx.data(), 8,
                                          0, y.data() + 1),
                          KILN_OK);
                EXPECT_EQ(bitsOf(y), ref) << kiln_cpu_isa() << " view " << fc.mOuter << "x" << fc.mChannels << "x"
                                          << fc.mInner << " threads " << t;
                std::vector<float> inPlace = x;  // y may alias x
                ASSERT_EQ(kiln_fake_quant(inPlace.data() + 1, fc.mOuter, fc.mChannels, fc.mInner, mn.data(),
                                          mx.data(), 8, 0, inPlace.data() + 1),
                          KILN_OK);
                inPlace[0] = 0.0f;
                EXPECT_EQ(bitsOf(inPlace), ref) << "in place, threads " << t;
            }
        }
    }
}

}  // namespace
