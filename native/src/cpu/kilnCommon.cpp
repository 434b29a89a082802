#include "kilnCommon.h"

#include <atomic>
#include <cstdarg>
#include <cstdlib>
#include <cstring>

namespace kiln {
namespace {
thread_local char tLastError[512] = {0};
}

kiln_status fail(kiln_status status, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(tLastError, sizeof(tLastError), fmt, args);
    va_end(args);
    return status;
}

void clearError() { tLastError[0] = '\0'; }

const char* lastError() { return tLastError; }

int64_t checkedProduct(int64_t a, int64_t b, const char* what) {
    int64_t r = 0;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) {
        throw ArgumentError{fail(KILN_ERR_INVALID_ARGUMENT, "%s overflows int64 (%lld x %lld)", what,
                                 static_cast<long long>(a), static_cast<long long>(b))};
    }
    return r;
}

namespace cpu {
namespace {

Isa detect() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
        return Isa::kAvx512;
    }
    if (__builtin_cpu_supports("avx2")) return Isa::kAvx2;
#endif
    return Isa::kScalar;
}

Isa clampToDetected(Isa wanted) {
    Isa best = detectedIsa();
    return static_cast<int>(wanted) > static_cast<int>(best) ? best : wanted;
}

Isa initial() {
    Isa best = detectedIsa();
    const char* env = std::getenv("KILN_CPU_ISA");
    if (env == nullptr) return best;
    if (std::strcmp(env, "scalar") == 0) return Isa::kScalar;
    if (std::strcmp(env, "avx2") == 0) return clampToDetected(Isa::kAvx2);
    return best;
}

std::atomic<int>& current() {
    static std::atomic<int> value{static_cast<int>(initial())};
    return value;
}

}  // namespace

Isa detectedIsa() {
    static const Isa kDetected = detect();
    return kDetected;
}

Isa isa() { return static_cast<Isa>(current().load(std::memory_order_relaxed)); }

void setIsa(Isa wanted) { current().store(static_cast<int>(clampToDetected(wanted)), std::memory_order_relaxed); }

const char* isaName(Isa value) {
    switch (value) {
        case Isa::kAvx512:
            return "avx512";
        case Isa::kAvx2:
            return "avx2";
        default:
            return "scalar";
    }
}

}  // namespace cpu
}  // namespace kiln

extern "C" {

KILN_API int32_t kiln_abi_version(void) { return KILN_ABI_VERSION; }

KILN_API const char* kiln_last_error(void) { return kiln::lastError(); }

KILN_API const char* kiln_cpu_isa(void) { return kiln::cpu::isaName(kiln::cpu::isa()); }

}  // extern "C"
