// weft::event: asyncio.Event, safe across threads.
//
//     weft::event ready;
//     ... co_await ready.wait();   // suspends until someone calls ready.set()
//
// set() wakes every waiter, in the order they started waiting; wait() on a
// set event returns at once; clear() makes later waiters block again. In Go
// mode any worker (or plain thread) may set an event others wait on.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <mutex>
#include <stdexcept>

#include <weft/detail/list_wait.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/wait_list.hpp>
#include <weft/errors.hpp>
#include <weft/event_loop.hpp>

namespace weft {

class event {
public:
    event() = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;

    bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }

    // Sets the event and wakes every waiter. An uncontended set() with
    // nobody waiting is one atomic store and one load.
    void set() {
        // seq_cst store, then the waiter count: a waiter links itself, then
        // re-reads set_ (see awaiter::await_suspend); at least one of the two
        // sees the other.
        set_.store(true, std::memory_order_seq_cst);
        if (list_.size_hint() == 0) return;
        detail::wake_chain woken;             // destroyed after the guard: wakes after the unlock,
        std::lock_guard lock(list_.mutex());  // in waiting order, allocating nothing
        while (list_.grant_front(woken)) {
        }
    }

    void clear() noexcept { set_.store(false, std::memory_order_release); }

    class awaiter {
    public:
        explicit awaiter(event& e) noexcept : ev_(e) {}
        awaiter(const awaiter&) = delete;
        awaiter& operator=(const awaiter&) = delete;

        bool await_ready() const noexcept { return ev_.is_set() && detail::consume_budget(); }

        bool await_suspend(std::coroutine_handle<> h) {
            detail::task_record& t = detail::current_task_for_await("weft::event::wait");
            t.link = h;
            waiter_.hook(t, ev_.list_);
            {
                std::unique_lock lock(ev_.list_.mutex());
                if (!waiter_.node().is_cancelled()) {
                    ev_.list_.push_back(&waiter_.node());
                    // seq_cst: the waiter's half of the handshake in set().
                    if (!ev_.set_.load(std::memory_order_seq_cst)) return true;  // the last access
                    ev_.list_.remove(&waiter_.node());
                }
            }
            return false;  // set meanwhile, or cancelled before waiting
        }

        bool await_resume() {
            if (waiter_.hooked()) waiter_.unhook("weft::event::wait");
            detail::check_cancelled();
            return true;
        }

    private:
        event& ev_;
        detail::list_waiter waiter_;
    };

    // Waits until the event is set; returns true (as asyncio's does).
    [[nodiscard]] awaiter wait() noexcept { return awaiter(*this); }

private:
    std::atomic<bool> set_{false};
    detail::wait_list list_;
};

}  // namespace weft
