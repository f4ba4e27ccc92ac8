// Compiler and build facts the rest of weft keys off: branch hints, whether a
// sanitizer is watching (then pooled memory goes straight to malloc so the
// sanitizer sees every allocation), and the cache-line size.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WEFT_SANITIZED 1
#endif
#endif
#ifndef WEFT_SANITIZED
#define WEFT_SANITIZED 0
#endif

#define WEFT_LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define WEFT_NOINLINE __attribute__((noinline))
#define WEFT_ALWAYS_INLINE inline __attribute__((always_inline))

namespace weft::detail {

// 64 bytes on every x86-64 and most ARM cores; hardware_destructive_interference_size
// is avoided because GCC warns that its value may change between compilers.
inline constexpr std::size_t cache_line = 64;

}  // namespace weft::detail
