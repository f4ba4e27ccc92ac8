// Readiness notification for one event loop: a thin layer over epoll that
// hands each event to the `poll_target` registered for the fd. The I/O
// component registers sockets, pipes and signal fds through it; the loop
// registers its wake-up eventfd. An io_uring backend would implement the same
// interface.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::detail {

struct poll_target {
    // Runs on the loop's thread during the poll phase; schedules work, never
    // runs user code itself.
    void (*on_events)(poll_target* self, std::uint32_t events) noexcept = nullptr;
};

class poller {
public:
    poller();
    ~poller();
    poller(const poller&) = delete;
    poller& operator=(const poller&) = delete;

    // `events` are EPOLL* bits. Throw std::system_error naming the fd.
    void add(int fd, std::uint32_t events, poll_target* target);
    void modify(int fd, std::uint32_t events, poll_target* target);
    void remove(int fd) noexcept;
    // As remove, for an fd that may have been closed since it was added
    // (epoll then dropped it by itself): the count goes down either way.
    void forget(int fd) noexcept;

    // The epoll fd: readable while an event is pending, so that another
    // loop can poll this one (event_loop::pollable_fd).
    int fd() const noexcept { return epfd_; }

    // Waits up to `timeout_ns` (negative: no limit, 0: just look) and
    // dispatches the events; returns how many there were.
    int wait(std::int64_t timeout_ns);

    // fds registered, the loop's own wake-up fd included. add/remove may be
    // called from any thread (the I/O component closes an fd on whichever
    // worker its owner runs), so the count is atomic; relaxed: it only
    // decides whether a poll(0) is worth a syscall.
    int registered() const noexcept { return registered_.load(std::memory_order_relaxed); }

private:
    int epfd_ = -1;
    std::atomic<int> registered_{0};
};

}  // namespace weft::detail
