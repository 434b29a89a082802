// Multi-threading of the large-array kernels (histogram, range statistics, fake quantization).
//
// An array of nb units (elements, or rows of a per-channel tensor) is cut into fixed chunks whose boundaries depend
// only on nb (kChunkElements); worker w of W takes the contiguous chunks [w * nbChunks / W, (w + 1) * nbChunks / W)
// and the partial results are merged in worker order on the calling thread. Every kernel threaded this way is exact
// in any order (integer counts, min/max, elementwise float operations), so the result is bit-identical for any
// thread count; the fixed chunk grid keeps it that way for a future kernel that is not.
#ifndef KILN_SRC_CPU_KILN_THREADS_H
#define KILN_SRC_CPU_KILN_THREADS_H

#include <algorithm>
#include <cstdint>
#include <functional>

namespace kiln {
namespace cpu {

// Elements per chunk: 256 Ki float32 = 1 MiB.
constexpr int64_t kChunkElements = int64_t{1} << 18;
// Below this many elements a kernel runs on the calling thread (starting threads costs tens of microseconds).
constexpr int64_t kParallelThreshold = int64_t{1} << 20;
// Upper bound of the thread-count setting.
constexpr int kMaxThreads = 256;

// The thread count in use: kiln_set_threads, else KILN_THREADS, else std::thread::hardware_concurrency().
int threads();
// n in 1..kMaxThreads sets the count; 0 restores the default.
void setThreads(int n);
// The default: KILN_THREADS when it holds a number >= 1 (clamped to kMaxThreads), else hardware_concurrency().
int defaultThreads();

// Workers for nbElements elements in nbChunks chunks: 1 below kParallelThreshold, else min(threads(), nbChunks).
int workersFor(int64_t nbElements, int64_t nbChunks);

// Runs fn(w) for w in [0, nbWorkers): worker 0 on the calling thread, the others on threads started for this call
// (a worker whose thread cannot be started runs on the calling thread). Returns when all are done; the first
// exception of a worker (in worker order) is rethrown then.
void runWorkers(int nbWorkers, const std::function<void(int)>& fn);

// Number of chunks of unitsPerChunk units over nbUnits units.
inline int64_t chunkCount(int64_t nbUnits, int64_t unitsPerChunk) {
    return (nbUnits + unitsPerChunk - 1) / unitsPerChunk;
}

// Runs fn(w, begin, end) over the unit range of each of nbWorkers workers (see the top of this file).
template <class F>
void forWorkerRanges(int nbWorkers, int64_t nbUnits, int64_t unitsPerChunk, F&& fn) {
    if (nbWorkers <= 1) {
        fn(0, int64_t{0}, nbUnits);
        return;
    }
    const int64_t nbChunks = chunkCount(nbUnits, unitsPerChunk);
    runWorkers(nbWorkers, [&](int w) {
        const int64_t c0 = nbChunks * w / nbWorkers;
        const int64_t c1 = nbChunks * (w + 1) / nbWorkers;
        fn(w, std::min(nbUnits, c0 * unitsPerChunk), std::min(nbUnits, c1 * unitsPerChunk));
    });
}

}  // namespace cpu
}  // namespace kiln

#endif  // KILN_SRC_CPU_KILN_THREADS_H
