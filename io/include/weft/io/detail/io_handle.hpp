// The public face of an open file descriptor inside weft::io: a pointer to its
// readiness entry (io/src/io_entry.hpp, Go's pollDesc) and the generation the
// holder opened it in. Copies are cheap and may outlive the descriptor: once
// it is closed every operation through a stale handle fails with
// weft::closed_error instead of touching whatever fd number came next.
#pragma once

#include <cstdint>

namespace weft::detail {

class io_entry;

struct io_handle {
    io_entry* entry = nullptr;
    std::uint32_t gen = 0;

    explicit operator bool() const noexcept { return entry != nullptr; }
};

}  // namespace weft::detail
