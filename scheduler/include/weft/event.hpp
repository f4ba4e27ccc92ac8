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
        ~awaiter() {
            if (WEFT_UNLIKELY(task_ != nullptr)) {
                task_->clear_hook(&node_);
                node_.leave();
            }
        }

        bool await_ready() const noexcept { return ev_.is_set() && detail::consume_budget(); }

        bool await_suspend(std::coroutine_handle<> h) {
            detail::task_record& t = detail::current_task_for_await("weft::event::wait");
            t.link = h;
            node_.prepare(t, ev_.list_);
            t.set_hook(&node_);  // a pending cancel marks the idle node cancelled
            task_ = &t;
            {
                std::unique_lock lock(ev_.list_.mutex());
                if (!node_.is_cancelled()) {
                    ev_.list_.push_back(&node_);
                    // seq_cst: the waiter's half of the handshake in set().
                    if (!ev_.set_.load(std::memory_order_seq_cst)) return true;  // the last access
                    ev_.list_.remove(&node_);
                }
            }
            return false;  // set meanwhile, or cancelled before waiting
        }

        bool await_resume() {
            if (task_ == nullptr) {  // never suspended
                detail::check_cancelled();
                return true;
            }
            task_->clear_hook(&node_);
            task_ = nullptr;
            detail::wait_node::state_t s = node_.state();
            node_.finish();
            if (s == detail::wait_node::cancelled) node_.throw_cancelled();
            if (s == detail::wait_node::orphaned) {
                throw std::logic_error("weft::event destroyed while a task was waiting on it");
            }
            detail::check_cancelled();
            return true;
        }

    private:
        event& ev_;
        detail::task_record* task_ = nullptr;
        detail::wait_node node_;
    };

    // Waits until the event is set; returns true (as asyncio's does).
    [[nodiscard]] awaiter wait() noexcept { return awaiter(*this); }

private:
    std::atomic<bool> set_{false};
    detail::wait_list list_;
};

}  // namespace weft
