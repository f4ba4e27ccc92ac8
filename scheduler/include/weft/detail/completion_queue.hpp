// Requests a backend completes by itself, beside the readiness of
// poller.hpp: io_uring runs a file read, write, fsync, open or close in the
// kernel and posts its result, where epoll can only say that a socket is
// ready. weft::file (io/src/file.cpp) submits to the loop's poller through
// this when the poller is one (completions_of), and makes the syscall on a
// blocking thread otherwise.
#pragma once

#include <cstdint>

namespace weft::detail {

class poller;

// Hears the result of one request: what the syscall would have returned, or
// a negative errno. Called once, on the thread that waits on the poller,
// during its wait (or, for requests still in flight when the poller is
// destroyed, from its destructor).
struct completion_target {
    void (*on_complete)(completion_target* self, int result) noexcept = nullptr;
};

// A file operation in weft's terms.
struct file_request {
    enum class kind : std::uint8_t { open, read, write, fsync, close };
    // read/write at the file's own position (read(2)/write(2)), rather
    // than at `offset` (pread(2)/pwrite(2)).
    static constexpr std::uint64_t at_position = ~std::uint64_t{0};

    kind op = kind::read;
    int fd = -1;
    void* data = nullptr;  // read: where to; write: what
    std::uint32_t size = 0;
    std::uint64_t offset = at_position;
    const char* path = nullptr;  // open
    int flags = 0;               // open
    std::uint32_t mode = 0;      // open
};

class completion_queue {
public:
    // Queues `r` for the kernel; `t` hears its result. What `r` points to
    // (data, path) must stay valid until then. From any thread. Throws
    // std::system_error if the request cannot be queued.
    virtual void submit(const file_request& r, completion_target* t) = 0;
    // Asks the kernel to stop `t`'s request early; its result still comes
    // (-ECANCELED, or what it did if it was too late to stop).
    virtual void cancel(completion_target* t) noexcept = 0;

protected:
    completion_queue() = default;
    ~completion_queue() = default;
};

// `p` as a completion queue, or null when its backend has none (epoll).
completion_queue* completions_of(poller& p) noexcept;

}  // namespace weft::detail
