// weft::lock: asyncio.Lock, safe across threads.
//
//     weft::lock mutex;
//     {
//         auto held = co_await mutex.scoped();   // released when `held` ends
//         ...
//     }
//     co_await mutex.acquire(); ...; mutex.release();   // or by hand
//
// Fair exactly as asyncio's: waiters get the lock in the order they asked,
// and a newcomer never overtakes a waiter that was handed the lock (release
// hands it straight to the first waiter). Uncontended, acquire and release
// are one compare-and-swap each.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <utility>

#include <weft/detail/list_wait.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/wait_list.hpp>
#include <weft/errors.hpp>
#include <weft/event_loop.hpp>

namespace weft {

class lock {
    static constexpr std::uint32_t locked_bit = 1;
    static constexpr std::uint32_t waiters_bit = 2;  // set, under the list lock, iff anyone waits

public:
    lock() = default;
    lock(const lock&) = delete;
    lock& operator=(const lock&) = delete;

    bool locked() const noexcept { return state_.load(std::memory_order_acquire) & locked_bit; }

    // Takes the lock without waiting; false if it is held.
    bool try_acquire() noexcept {
        std::uint32_t expected = 0;
        // acquire: pairs with release()'s release, so the previous holder's
        // writes are visible to the new one.
        return state_.compare_exchange_strong(expected, locked_bit, std::memory_order_acquire,
                                              std::memory_order_relaxed);
    }

    // Releases the lock, handing it to the first waiter if there is one.
    // Raises std::logic_error if the lock is not held (asyncio's RuntimeError).
    void release() {
        std::uint32_t s = state_.load(std::memory_order_relaxed);
        if (!(s & locked_bit))
            throw std::logic_error("weft::lock::release: the lock is not acquired");
        // release: publishes the holder's writes to the next acquirer.
        if (s == locked_bit && state_.compare_exchange_strong(s, 0, std::memory_order_release,
                                                              std::memory_order_relaxed)) {
            return;
        }
        detail::task_record* next = nullptr;
        {
            std::lock_guard held(list_.mutex());
            next = list_.grant_front();
            // Handed over: it stays locked (for the waiter); the waiters bit
            // follows the list. Nobody left: unlocked.
            std::uint32_t now = next ? (list_.empty() ? locked_bit : locked_bit | waiters_bit) : 0;
            state_.store(now, std::memory_order_release);
        }
        if (next) next->wake();
    }

    class awaiter;
    class guard;
    class scoped_awaiter;

    // Waits for the lock; returns true (as asyncio's acquire does).
    [[nodiscard]] awaiter acquire() noexcept;
    // Waits for the lock; returns a guard that releases it when destroyed.
    [[nodiscard]] scoped_awaiter scoped() noexcept;

private:
    friend class awaiter;
    std::atomic<std::uint32_t> state_{0};
    detail::wait_list list_;
};

class lock::awaiter {
public:
    explicit awaiter(lock& l) noexcept : lock_(l) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;

    bool await_ready() noexcept {
        // Free: take it, unless the cooperative budget says yield first.
        acquired_ = lock_.try_acquire();
        return acquired_ && detail::consume_budget();
    }

    bool await_suspend(std::coroutine_handle<> h) {
        detail::task_record& t = detail::current_task_for_await("weft::lock::acquire");
        t.link = h;
        if (acquired_) {  // got it, but out of budget: yield once, holding it
            event_loop::current()->push_ready(event_loop::tag_task(&t));
            return true;
        }
        waiter_.hook(t, lock_.list_);
        std::unique_lock held(lock_.list_.mutex());
        if (waiter_.node().is_cancelled()) return false;
        for (std::uint32_t s = lock_.state_.load(std::memory_order_relaxed);;) {
            if (!(s & locked_bit)) {
                // Released meanwhile, with no one waiting before us.
                if (lock_.state_.compare_exchange_weak(s, s | locked_bit, std::memory_order_acquire,
                                                       std::memory_order_relaxed)) {
                    // Granted, not idle: a cancel racing in before await_resume
                    // clears the hook must not turn a taken lock into a
                    // cancelled wait (the lock would never be released).
                    lock_.list_.complete_unlinked(&waiter_.node());
                    acquired_ = true;
                    return false;
                }
                continue;
            }
            if ((s & waiters_bit) ||
                lock_.state_.compare_exchange_weak(s, s | waiters_bit, std::memory_order_relaxed,
                                                   std::memory_order_relaxed)) {
                break;
            }
        }
        lock_.list_.push_back(&waiter_.node());
        return true;  // the unlock publishes the node: nothing is touched after it
    }

    bool await_resume() {
        if (waiter_.hooked() &&
            waiter_.unhook("weft::lock::acquire") == detail::wait_node::granted) {
            acquired_ = true;
        }
        if (acquired_) {
            // asyncio: cancelled after being handed the lock, the waiter
            // passes it on to the next one and raises.
            try {
                detail::check_cancelled();
            } catch (...) {
                lock_.release();
                throw;
            }
            return true;
        }
        waiter_.node().throw_cancelled();  // cancelled before it could wait
    }

protected:
    lock& lock_;

private:
    bool acquired_ = false;
    detail::list_waiter waiter_;
};

// Holds a lock until destroyed (or released early).
class lock::guard {
public:
    explicit guard(lock& l) noexcept : lock_(&l) {}
    guard(guard&& o) noexcept : lock_(std::exchange(o.lock_, nullptr)) {}
    guard& operator=(guard&& o) noexcept {
        if (this != &o) {
            reset();
            lock_ = std::exchange(o.lock_, nullptr);
        }
        return *this;
    }
    ~guard() { reset(); }
    void release() { reset(); }
    bool owns_lock() const noexcept { return lock_ != nullptr; }

private:
    void reset() noexcept {
        if (lock_) std::exchange(lock_, nullptr)->release();
    }
    lock* lock_;
};

class lock::scoped_awaiter : public lock::awaiter {
public:
    using awaiter::awaiter;
    guard await_resume() {
        awaiter::await_resume();
        return guard(lock_);
    }
};

inline lock::awaiter lock::acquire() noexcept {
    return awaiter(*this);
}
inline lock::scoped_awaiter lock::scoped() noexcept {
    return scoped_awaiter(*this);
}

}  // namespace weft
