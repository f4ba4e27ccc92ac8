// Requests a backend completes by itself, beside the readiness of
// poller.hpp: io_uring runs a file read, write, fsync, open or close, or a
// socket's recv, send, accept, connect or shutdown in the kernel and posts
// its result, where epoll can only say that an fd is ready. weft::file
// (io/src/file.cpp) submits to the loop's poller through this when the
// poller is one (completions_of), and makes the syscall on a blocking
// thread otherwise; a stream's socket (io/src/ring_receive.hpp,
// fd_transport) receives and sends through it, and the socket calls of
// io/src/ring_op.hpp connect, accept, shut down and close through it.
#pragma once

#include <cstdint>

namespace weft::detail {

class poller;

// Hears the result of one request: what the syscall would have returned, or
// a negative errno. Called once, on the thread that waits on the poller,
// during its wait (or, for requests still in flight when the poller is
// destroyed, from its destructor). `data` is where a recv's bytes are (the
// ring's own buffer, valid only during the call: copy them out); null for
// every other request.
struct completion_target {
    void (*on_complete)(completion_target* self, int result, const char* data) noexcept = nullptr;
};

// A file or socket operation in weft's terms.
struct io_request {
    // recv: up to `size` bytes into a buffer of the ring's (no buffer is
    // held while the request waits for data); send: `size` bytes from
    // `data`, as send(2) with MSG_NOSIGNAL. accept: accept4(2) with
    // SOCK_NONBLOCK | SOCK_CLOEXEC, the peer's address into `data` (room
    // for `*size_out` bytes, which it sets); connect: to the address of
    // `size` bytes at `data`; shutdown: shutdown(2) with `flags` as how.
    enum class kind : std::uint8_t {
        open,
        read,
        write,
        fsync,
        close,
        recv,
        send,
        accept,
        connect,
        shutdown
    };
    // read/write at the file's own position (read(2)/write(2)), rather
    // than at `offset` (pread(2)/pwrite(2)).
    static constexpr std::uint64_t at_position = ~std::uint64_t{0};

    kind op = kind::read;
    int fd = -1;
    void* data = nullptr;  // read: where to; write, send: what
    std::uint32_t size = 0;
    std::uint64_t offset = at_position;
    const char* path = nullptr;         // open
    int flags = 0;                      // open; shutdown: how
    std::uint32_t mode = 0;             // open
    std::uint32_t* size_out = nullptr;  // accept: the address's size, in and out
};

// The most a recv request takes at once (the size of the ring's buffers).
inline constexpr std::uint32_t ring_recv_size = 4096;

class completion_queue {
public:
    // Queues `r` for the kernel; `t` hears its result. What `r` points to
    // (data, path) must stay valid until then. From any thread. Throws
    // std::system_error if the request cannot be queued.
    virtual void submit(const io_request& r, completion_target* t) = 0;
    // Asks the kernel to stop `t`'s request early; its result still comes
    // (-ECANCELED, or what it did if it was too late to stop).
    virtual void cancel(completion_target* t) noexcept = 0;
    // Whether recv and send requests can be submitted: the ring's buffers
    // for recv are set up on the first call (Linux 5.19's provided buffer
    // rings); false when the kernel refuses them.
    virtual bool takes_sockets() noexcept = 0;
    // Cancels what is in flight and hears every completion (a bounded
    // time); the poller's destructor does it too. A runtime calls it for
    // every loop before it destroys any: a completion may end an fd's last
    // operation, which deregisters the fd from another loop's poller.
    virtual void finish() noexcept = 0;

protected:
    completion_queue() = default;
    ~completion_queue() = default;
};

// `p` as a completion queue, or null when its backend has none (epoll).
completion_queue* completions_of(poller& p) noexcept;

// `p` as a completion queue that takes socket requests, or null. Asked on
// every read and write of a stream, so the answer is kept per thread for
// the last poller asked, until any poller is destroyed (one may be made
// again at the same address).
completion_queue* socket_completions(poller& p) noexcept;
// Called by a backend's destructor: forget the answers above.
void forget_socket_completions() noexcept;

}  // namespace weft::detail
