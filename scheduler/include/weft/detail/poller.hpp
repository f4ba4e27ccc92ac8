// Readiness notification for one event loop, in weft's own terms: an fd is
// registered with the readiness it is interested in (`readiness` bits) and a
// `poll_target` that hears about it during the loop's poll phase. The I/O
// component registers sockets, pipes and signal fds through it, the process
// pool its worker sockets, and the loop its wake-up eventfd. `poller` is the
// interface; a backend (epoll_poller.cpp, uring_poller.cpp) maps the bits to
// its own and is the only code that knows the kernel's constants.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <weft/io_backend.hpp>

namespace weft::detail {

// Bits of interest (add/modify) and of events (poll_target::on_events).
// `hangup` and `error` are always reported, whether asked for or not, as
// epoll and poll(2) do; `edge` is an interest flag only. Level interest
// reports an fd on every wait while it is ready; the bits are its state
// when the backend last looked, which io_uring may have done one wait
// earlier.
namespace readiness {
inline constexpr std::uint32_t readable = 1u << 0;
inline constexpr std::uint32_t writable = 1u << 1;
// The peer shut down its side: reads return what is left, then end of file.
inline constexpr std::uint32_t peer_closed = 1u << 2;
inline constexpr std::uint32_t hangup = 1u << 3;
inline constexpr std::uint32_t error = 1u << 4;
// Report a change of readiness once instead of a level on every wait.
inline constexpr std::uint32_t edge = 1u << 5;
}  // namespace readiness

struct poll_target {
    // Runs on the loop's thread during the poll phase with `readiness`
    // bits; schedules work, never runs user code itself.
    void (*on_events)(poll_target* self, std::uint32_t events) noexcept = nullptr;
};

class poller {
public:
    virtual ~poller() = default;
    poller(const poller&) = delete;
    poller& operator=(const poller&) = delete;

    // `events` are `readiness` bits. Throw std::system_error naming the fd;
    // modify's code is ENOENT when the fd was closed (and so dropped) since
    // it was added.
    virtual void add(int fd, std::uint32_t events, poll_target* target) = 0;
    virtual void modify(int fd, std::uint32_t events, poll_target* target) = 0;
    virtual void remove(int fd) noexcept = 0;
    // As remove, for an fd that may have been closed since it was added
    // (the kernel then dropped it by itself): the count goes down either way.
    virtual void forget(int fd) noexcept = 0;

    // An fd readable while an event is pending, so that another loop can
    // poll this one (event_loop::pollable_fd).
    virtual int fd() const noexcept = 0;

    // Waits up to `timeout_ns` (negative: no limit, 0: just look) and
    // dispatches the events; returns how many there were.
    virtual int wait(std::int64_t timeout_ns) = 0;

    // fds registered, the loop's own wake-up fd included. add/remove may be
    // called from any thread (the I/O component closes an fd on whichever
    // worker its owner runs), so the count is atomic; relaxed: it only
    // decides whether a poll(0) is worth a syscall. Not virtual: the loop
    // asks on every turn.
    int registered() const noexcept { return registered_.load(std::memory_order_relaxed); }

protected:
    poller() = default;
    std::atomic<int> registered_{0};
};

// A poller on `backend` after resolve_io_backend (WEFT_IO, the probe):
// epoll or io_uring. Raises configuration_error as that does.
std::unique_ptr<poller> make_poller(io_backend backend = io_backend::automatic);

}  // namespace weft::detail
