# Compiler settings shared by every weft target: warnings, sanitizers.
include(GNUInstallDirs)

add_library(weft_options INTERFACE)
add_library(weft::options ALIAS weft_options)
target_compile_options(weft_options INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
    -Wimplicit-fallthrough -Wcast-qual -Wformat=2)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # Clang before 19 leaves C++14's sized deallocation off by default; weft's
    # frames are freed with their size (as GCC does), and the benchmarks
    # measure the sized ::operator delete.
    target_compile_options(weft_options INTERFACE -fsized-deallocation)
endif()
if(WEFT_WERROR)
    target_compile_options(weft_options INTERFACE -Werror)
endif()

if(WEFT_SANITIZE)
    # Applied to everything built here (tests, examples, benchmarks) so that
    # the instrumented runtime and its callers agree.
    add_compile_options(-fsanitize=${WEFT_SANITIZE} -fno-omit-frame-pointer -g)
    add_link_options(-fsanitize=${WEFT_SANITIZE})
    if(WEFT_SANITIZE MATCHES "undefined")
        # vptr is left out: the sanitizer checks a dynamic type by probing
        # memory through a pipe(), which fails when the process is out of
        # file descriptors, and the I/O fault tests are out of them on
        # purpose (EMFILE backoff). Every other UB check stays on.
        add_compile_options(-fno-sanitize-recover=undefined -fno-sanitize=vptr)
        if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
            # The function-type check is left out under clang: its prologue
            # data in a coroutine's split-off resume/destroy functions makes
            # clang 14's backend fail ("Cannot represent a difference across
            # sections", LLVM bug 49689) on weft's coroutine code.
            add_compile_options(-fno-sanitize=function)
        endif()
    endif()
    if(WEFT_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        # GCC warns that TSan does not model atomic_thread_fence. The fences in
        # weft (and in oneTBB's queue) order atomics against atomics, which
        # TSan checks through the release/acquire operations next to them.
        add_compile_options(-Wno-tsan)
    endif()
endif()
