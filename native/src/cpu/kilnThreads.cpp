#include "kilnThreads.h"

#include <atomic>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

#include "kilnCommon.h"

namespace kiln {
namespace cpu {
namespace {

// 0 = not set: the default applies.
std::atomic<int> gThreads{0};

}  // namespace

int defaultThreads() {
    static const int kDefault = [] {
        const char* env = std::getenv("KILN_THREADS");
        if (env != nullptr) {
            char* end = nullptr;
            const long v = std::strtol(env, &end, 10);
            if (end != env && *end == '\0' && v >= 1) return static_cast<int>(std::min<long>(v, kMaxThreads));
        }
        const unsigned hw = std::thread::hardware_concurrency();
        return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, kMaxThreads));
    }();
    return kDefault;
}

int threads() {
    const int n = gThreads.load(std::memory_order_relaxed);
    return n > 0 ? n : defaultThreads();
}

void setThreads(int n) { gThreads.store(n, std::memory_order_relaxed); }

int workersFor(int64_t nbElements, int64_t nbChunks) {
    if (nbElements < kParallelThreshold || nbChunks < 2) return 1;
    return static_cast<int>(std::min<int64_t>(threads(), nbChunks));
}

void runWorkers(int nbWorkers, const std::function<void(int)>& fn) {
    if (nbWorkers <= 1) {
        fn(0);
        return;
    }
    std::vector<std::exception_ptr> errors(static_cast<size_t>(nbWorkers));
    auto body = [&fn, &errors](int w) {
        try {
            fn(w);
        } catch (...) {
            errors[static_cast<size_t>(w)] = std::current_exception();
        }
    };
    std::vector<std::thread> started;
    started.reserve(static_cast<size_t>(nbWorkers - 1));
    int next = 1;
    try {
        for (; next < nbWorkers; ++next) started.emplace_back(body, next);
    } catch (...) {
        // no more threads (std::system_error): the workers not started run on this thread below
    }
    body(0);
    for (int w = next; w < nbWorkers; ++w) body(w);
    for (std::thread& t : started) t.join();
    for (const std::exception_ptr& e : errors) {
        if (e) std::rethrow_exception(e);
    }
}

}  // namespace cpu
}  // namespace kiln

extern "C" {

KILN_API kiln_status kiln_set_threads(int32_t nb_threads) {
    KILN_ENTRY {
        KILN_CHECK(nb_threads >= 0 && nb_threads <= kiln::cpu::kMaxThreads,
                   "nb_threads must be in 0..%d (0 = the default), got %d", kiln::cpu::kMaxThreads, nb_threads);
        kiln::cpu::setThreads(nb_threads);
        return KILN_OK;
    }
    KILN_EXIT
}

KILN_API int32_t kiln_threads(void) { return kiln::cpu::threads(); }

}  // extern "C"
