// Which kernel interface the event loops' I/O goes through (docs/io.md,
// "Backends"): epoll, or io_uring where the kernel allows it. Chosen per
// runner with run_options::io, or for the process with WEFT_IO.
#pragma once

#include <string>
#include <string_view>

namespace weft {

enum class io_backend {
    // Not given: the WEFT_IO environment variable ("epoll", "uring" or
    // "auto"; empty counts as not set) decides, else epoll.
    automatic,
    epoll,
    // io_uring; asking for it where it is missing (not built, or the kernel
    // refuses io_uring_setup) raises configuration_error.
    uring,
    // "auto": io_uring when a probe of the kernel succeeds, else epoll, with
    // one log line saying which runs and why.
    probe,
};

// "epoll", "uring", "auto" ("automatic" for the default).
const char* to_string(io_backend b) noexcept;
// Parses "epoll", "uring" or "auto"; raises configuration_error naming
// `source` (a flag or variable) and the bad value otherwise.
io_backend parse_io_backend(std::string_view text, std::string_view source);

// The backend `requested` comes to after WEFT_IO and the probe: epoll or
// uring, never automatic or probe. Raises configuration_error for a bad
// WEFT_IO, or for io_uring asked for where it cannot run (naming why).
io_backend resolve_io_backend(io_backend requested);

// Whether io_uring can run here, and if not why (for a message): it was
// built without liburing, or the kernel refused a ring (EPERM under seccomp
// or kernel.io_uring_disabled, ENOSYS), or lacks a feature weft needs.
// Asks the kernel each time (a ring set up and torn down).
struct io_uring_support {
    bool available = false;
    std::string why;
};
io_uring_support probe_io_uring();

}  // namespace weft
