// Shared by the CPU (and CUDA) implementations of kiln.h: error reporting, argument checks, ISA dispatch.
#ifndef KILN_SRC_CPU_KILN_COMMON_H
#define KILN_SRC_CPU_KILN_COMMON_H

#include <cstdint>
#include <cstdio>
#include <new>
#include <string>

#include "kiln/kiln.h"

namespace kiln {

// Sets this thread's last error message and returns status (so that `return fail(...)` reads well).
kiln_status fail(kiln_status status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void clearError();
const char* lastError();

// Thrown inside an entry point by the check helpers; caught by KILN_ENTRY's handler and turned into a status.
struct ArgumentError {
    kiln_status status;
};

#define KILN_CHECK(cond, ...)                                                \
    do {                                                                     \
        if (!(cond)) throw ::kiln::ArgumentError{::kiln::fail(KILN_ERR_INVALID_ARGUMENT, __VA_ARGS__)}; \
    } while (0)

#define KILN_CHECK_PTR(p) KILN_CHECK((p) != nullptr, "%s must not be null", #p)
#define KILN_CHECK_COUNT(n) KILN_CHECK((n) >= 0, "%s must be >= 0, got %lld", #n, static_cast<long long>(n))

// Product of non-negative counts, failing (invalid argument) on overflow of int64.
int64_t checkedProduct(int64_t a, int64_t b, const char* what);

// Every entry point: `KILN_ENTRY { ...body...; return KILN_OK; } KILN_EXIT`
#define KILN_ENTRY            \
    ::kiln::clearError();     \
    try
#define KILN_EXIT                                                                     \
    catch (const ::kiln::ArgumentError& e) {                                          \
        return e.status;                                                              \
    }                                                                                 \
    catch (const std::bad_alloc&) {                                                   \
        return ::kiln::fail(KILN_ERR_OUT_OF_MEMORY, "out of memory in %s", __func__); \
    }                                                                                 \
    catch (const std::exception& e) {                                                 \
        return ::kiln::fail(KILN_ERR_INTERNAL, "%s: %s", __func__, e.what());         \
    }                                                                                 \
    catch (...) {                                                                     \
        return ::kiln::fail(KILN_ERR_INTERNAL, "%s: unknown exception", __func__);    \
    }

namespace cpu {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// The ISA the kernels dispatch to: the best the CPU supports, or KILN_CPU_ISA=scalar|avx2|avx512 (never above
// what the CPU supports). setIsa is for tests (it is clamped the same way).
Isa isa();
Isa detectedIsa();
void setIsa(Isa isa);
const char* isaName(Isa isa);

}  // namespace cpu
}  // namespace kiln

#endif  // KILN_SRC_CPU_KILN_COMMON_H
