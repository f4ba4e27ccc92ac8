// A stream socket's receive as a request in the loop's io_uring ring
// (completion_queue.hpp) instead of a readiness wait and a recv syscall: the
// request goes into the kernel with the loop's next wait, together with
// every other request of that turn, and its completion brings the bytes. An
// echo or HTTP request then costs no system call of its own.
//
// It keeps the pull model of transport.hpp. try_receive() hands over bytes
// a completed request brought; with nothing there it submits a request (one
// at a time) and says `again`; the completion is an edge of the read
// direction of the socket's io_entry (notify), so the reader's io_wait ends
// as it would for readiness. A reader cancelled while a request is in
// flight loses nothing: the bytes stay here for the next read.
//
// A request holds an operation reference on the entry (io_entry.hpp) until
// its CQE: the fd number stays the socket's while the kernel uses it. So a
// close must cancel the request in flight (cancel()), or the socket would
// stay open until the peer sent something.
//
// Only a receive that may wait goes to the ring: after a completion that
// filled the ring's buffer, or a first receive, a plain recv into the
// caller's (larger) buffer comes first, so bulk transfers cost what they
// cost on epoll.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <weft/detail/completion_queue.hpp>

#include "io_wait.hpp"

namespace weft::detail {

// The ring of the loop this thread drives when it takes socket requests;
// null on epoll, off a loop's thread, or on a kernel without provided
// buffer rings.
completion_queue* socket_ring() noexcept;

class ring_receive final : public completion_target,
                           public std::enable_shared_from_this<ring_receive> {
public:
    ring_receive() noexcept { on_complete = &on_done; }

    // An attempt as transport::try_receive's, on the socket `h`, whose
    // receives all come through here from now on. `ring` is socket_ring().
    io_attempt try_receive(io_handle h, completion_queue& ring, char* buf, std::size_t n);

    // Asks the ring to end a request in flight (the socket is closing).
    void cancel() noexcept;

private:
    static void on_done(completion_target* t, int res, const char* data) noexcept;

    std::mutex mutex_;     // the state below: the reader's thread and the ring's
    std::string pending_;  // bytes a completion brought, unread from pos_ on
    std::size_t pos_ = 0;
    int result_ = 1;  // a completion's end of stream (0) or -errno, to report once; 1: none
    bool in_flight_ = false;
    bool stopped_ = false;  // cancel() was called: the stream is closing
    // The last receive filled its buffer: more may be waiting, so the next
    // tries a recv syscall before a ring request.
    bool maybe_more_ = true;
    std::uint32_t asked_ = 0;           // the size of the request in flight
    completion_queue* ring_ = nullptr;  // of the request in flight
    io_handle h_{};
    std::shared_ptr<ring_receive> self_;  // the ring's reference, until the CQE
};

}  // namespace weft::detail
