# kiln_set_warnings(<target>): the warning set every Kiln C++ target uses.
function(kiln_set_warnings target)
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow
            -Wno-unused-parameter>)
        if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
            # GCC 12 false positive inside avx512fintrin.h (_mm512_undefined_*)
            target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>)
        endif()
    endif()
endfunction()
