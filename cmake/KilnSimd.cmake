# SIMD: Kiln dispatches at run time (__attribute__((target("avx2"))) / ("avx512f,...") functions chosen with
# __builtin_cpu_supports), so the library is built for the baseline ISA and runs on any x86-64.
# kiln_set_float_semantics(<target>): bit-exact IEEE float32 like Java: no FMA contraction, no fast-math.
include(CheckCXXSourceCompiles)
set(CMAKE_REQUIRED_FLAGS "")
check_cxx_source_compiles("
#include <immintrin.h>
__attribute__((target(\"avx512f,avx512bw,avx512vl,avx512dq\"))) static int f() {
    __m512 v = _mm512_set1_ps(1.0f); return _mm512_cvtss_f32(v) > 0; }
__attribute__((target(\"avx2\"))) static int g() {
    __m256 v = _mm256_set1_ps(1.0f); return _mm256_cvtss_f32(v) > 0; }
int main() { __builtin_cpu_init(); return __builtin_cpu_supports(\"avx2\") ? f() : g(); }" KILN_HAVE_TARGET_ATTRIBUTES)
if(NOT KILN_HAVE_TARGET_ATTRIBUTES)
    message(FATAL_ERROR "Kiln needs an x86-64 GCC or Clang with __attribute__((target)) and __builtin_cpu_supports")
endif()

function(kiln_set_float_semantics target)
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off -fno-fast-math>)
    endif()
endfunction()
