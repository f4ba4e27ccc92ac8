// The failure path of WEFT_ASSERT. Built in every configuration, so that
// code checked with assertions links against a library built without.
#include <cstdio>
#include <cstdlib>

#include <weft/detail/assert.hpp>

namespace weft::detail {

void assertion_failed(const char* condition, const char* what, const char* file,
                      int line) noexcept {
    // stdio, not iostream: this may run inside an allocator or a signal of
    // trouble, and must not allocate more than it has to.
    std::fprintf(stderr, "weft: invariant broken at %s:%d: %s (%s)\n", file, line, what, condition);
    std::fflush(stderr);
    std::abort();
}

}  // namespace weft::detail
