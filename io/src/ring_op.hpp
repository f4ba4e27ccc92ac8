// One socket request in the loop's io_uring ring (completion_queue.hpp): a
// connect, an accept of a server's accept loop, a stream's shutdown. Where
// epoll waits for readiness and then makes the syscall (two or three
// syscalls for a connect, two for an accept that finds the queue empty),
// the request goes into the kernel with the loop's next wait, and its
// completion brings the result.
//
// The completion is an edge in one direction of the socket's io_entry
// (notify), so a task waits for it with io_wait as it would for readiness:
// ring_call() below. The request holds an operation reference on the entry
// until its completion, so the fd number stays the socket's while the kernel
// may use it; a close of the socket meanwhile wakes the waiter, which
// cancels the request, and the fd closes at the completion.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include <weft/detail/completion_queue.hpp>
#include <weft/io/address.hpp>
#include <weft/task.hpp>

#include "io_wait.hpp"

namespace weft::detail {

class ring_op final : public completion_target, public std::enable_shared_from_this<ring_op> {
public:
    ring_op() noexcept { on_complete = &on_done; }

    // The address a connect goes to, or an accept's peer: it lives here
    // because the kernel reads or writes it until the completion.
    socket_address address;

    // Submits `r` with the socket of `h` as its fd; its completion is an edge
    // in `d`. The attempt says `closed` when the socket was closed first, and
    // otherwise `again`, with the edge count to wait from.
    io_attempt start(io_handle h, io_dir d, completion_queue& ring, io_request r);

    // The request's result (what its syscall returns, or -errno) once its
    // completion came, taken once; nothing while it is in flight.
    std::optional<int> take() noexcept;

    // Nobody will take the result: a request in flight is cancelled, and a
    // completion that brings a new fd anyway (an accept too late to stop)
    // closes it.
    void abandon() noexcept;

private:
    static void on_done(completion_target* t, int res, const char* data) noexcept;

    std::mutex mutex_;  // the state below: the waiter's thread and the ring's
    std::optional<int> result_;
    bool in_flight_ = false;
    bool abandoned_ = false;
    bool gives_fd_ = false;  // an accept: a result >= 0 is an fd to close if abandoned
    io_dir dir_ = io_dir::read;
    io_handle h_{};
    completion_queue* ring_ = nullptr;
    std::shared_ptr<ring_op> self_;  // the ring's reference, until the CQE
};

// Submits `r` for `target`, which the ring keeps alive through `keep` (a
// reference of its own, dropped at the completion) and which holds an
// operation reference on `e` until then. If the request cannot be queued,
// both go and the error is raised.
template <class Target>
void submit_holding(completion_queue& ring, const io_request& r, Target* target,
                    std::shared_ptr<Target>& keep, io_entry* e) {
    keep = target->shared_from_this();
    try {
        ring.submit(r, target);
    } catch (...) {
        keep.reset();  // the caller holds another reference
        e->end_op();
        throw;
    }
}

// Runs `r` as `op`'s request on the socket of `h` and waits for its result
// (what the syscall returns, or -errno). A cancel of the waiting task, or a
// close of the socket (closed_error naming `what`), abandons the request.
task<int> ring_call(io_handle h, io_dir d, completion_queue& ring, std::shared_ptr<ring_op> op,
                    io_request r, const char* what);

// Queues `r` in the ring of the loop this thread drives, for nobody to wait
// on (a close, a stream's shutdown): it goes into the kernel with the loop's
// next wait instead of as a syscall of its own. On success the request takes
// over the caller's operation reference on `h`'s entry, if `h` names one,
// and drops it at its completion; a close that the ring's end cancels
// before it ran is made then. False, with nothing queued, off a ring or
// with no room in it: make the syscall.
bool submit_detached(const io_request& r, io_handle h = {}) noexcept;

}  // namespace weft::detail
