// WEFT_ASSERT(condition, what): an invariant of weft's own code, checked
// where the build turns checks on (the dev, asan, tsan and fuzz presets, or
// -DWEFT_ASSERTIONS=ON) and compiled out elsewhere (release), as Tokio's
// debug_assert!. It states what the code relies on at the place that relies
// on it ("called with the lock held", "only the owner may"), so that a
// broken rule stops the program there, naming itself, rather than showing
// up later as a lost wake-up or a task run twice.
//
// Only for weft's own mistakes: bad input from a user gets an exception
// whatever the build (errors.hpp).
#pragma once

#include <weft/detail/config.hpp>

#ifndef WEFT_ASSERTIONS
#define WEFT_ASSERTIONS 0
#endif

namespace weft::detail {

// Prints "weft: invariant broken at FILE:LINE: WHAT (CONDITION)" and aborts.
[[noreturn]] void assertion_failed(const char* condition, const char* what, const char* file,
                                   int line) noexcept;

}  // namespace weft::detail

#if WEFT_ASSERTIONS
#define WEFT_ASSERT(condition, what) \
    (WEFT_LIKELY(condition)          \
         ? void(0)                   \
         : ::weft::detail::assertion_failed(#condition, what, __FILE__, __LINE__))
#else
// Unevaluated, so that a check's names stay compiled (and its variables
// used) in every build.
#define WEFT_ASSERT(condition, what) ((void)sizeof(!(condition)))
#endif
