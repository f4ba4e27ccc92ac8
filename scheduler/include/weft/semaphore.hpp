// weft::semaphore and weft::bounded_semaphore: asyncio.Semaphore and
// asyncio.BoundedSemaphore (Python 3.13's), safe across threads.
//
//     weft::semaphore slots(3);
//     {
//         auto held = co_await slots.scoped();   // one permit, released when `held` ends
//         ...
//     }
//     co_await slots.acquire(); ...; slots.release();   // or by hand
//
// FIFO as asyncio's: release() hands the permit straight to the first waiter,
// and while a waiter that was handed one has not run yet, newcomers queue
// behind it even if permits are free (asyncio's locked() counts it as a
// waiter); when it runs it wakes as many of them as there are free permits. A
// waiter cancelled after being handed a permit passes it on. Uncontended,
// acquire and release are one compare-and-swap each.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include <weft/detail/config.hpp>
#include <weft/detail/list_wait.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/wait_list.hpp>
#include <weft/errors.hpp>
#include <weft/event_loop.hpp>

namespace weft {

class semaphore {
    // state_ packs the free permits (asyncio's _value) with two flags, so
    // that the uncontended paths are one CAS that sees both:
    //   waiters_bit: set under the list lock when a waiter links itself,
    //     cleared under it when the list is found empty (a cancel that
    //     empties the list leaves it set: the next slow path clears it);
    //   pending_bit: set under the list lock iff pending_ > 0, the waiters
    //     handed a permit that have not run yet.
    // Either flag sends acquire and release through the list lock.
    static constexpr std::uint64_t waiters_bit = 1;
    static constexpr std::uint64_t pending_bit = 2;
    static constexpr std::uint64_t flags = waiters_bit | pending_bit;
    static constexpr std::uint64_t one = 4;  // one permit

public:
    // Raises std::invalid_argument for a negative value (asyncio's ValueError).
    explicit semaphore(std::ptrdiff_t value = 1) : semaphore(value, false) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    // Whether acquire() would wait: no permit free, or someone waiting (or
    // handed a permit and not yet run) ahead of a newcomer.
    bool locked() const noexcept {
        std::uint64_t s = state_.load(std::memory_order_acquire);
        return s < one || (s & pending_bit) || list_.size_hint() != 0;
    }
    // The free permits (asyncio's _value): those not held and not handed to
    // a waiter.
    std::size_t value() const noexcept {
        return static_cast<std::size_t>(state_.load(std::memory_order_acquire) / one);
    }

    // Takes a permit without waiting; false if acquire() would wait.
    bool try_acquire() noexcept {
        std::uint64_t s = state_.load(std::memory_order_relaxed);
        while (!(s & flags) && s >= one) {
            // acquire: pairs with release()'s release, so what the releaser
            // wrote is visible to the new holder.
            if (state_.compare_exchange_weak(s, s - one, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
                return true;
            }
        }
        return false;
    }

    // Returns a permit, handing it to the first waiter if there is one.
    // bounded_semaphore raises std::logic_error when that would exceed the
    // initial value.
    void release() {
        std::uint64_t s = state_.load(std::memory_order_relaxed);
        while (!(s & flags)) {
            check_bound(s);
            // release: publishes the holder's writes to the next acquirer.
            if (state_.compare_exchange_weak(s, s + one, std::memory_order_release,
                                             std::memory_order_relaxed)) {
                return;
            }
        }
        detail::wake_chain woken;  // destroyed after the guard: wakes after the unlock
        std::lock_guard held(list_.mutex());
        s = state_.load(std::memory_order_relaxed);
        check_bound(s);
        if (list_.grant_front(woken)) {  // asyncio: _value += 1, then _wake_up_next
            ++pending_;
        } else {
            // Nobody waits; with the flags clear, uncontended acquires and
            // releases may change the count meanwhile, hence the CAS loop.
            // release: as in the fast path.
            while (!state_.compare_exchange_weak(s, s + one, std::memory_order_release,
                                                 std::memory_order_relaxed)) {
                check_bound(s);
            }
        }
        update_flags_locked();
    }

    class awaiter;
    class guard;
    class scoped_awaiter;

    // Waits for a permit; returns true (as asyncio's acquire does).
    [[nodiscard]] awaiter acquire() noexcept;
    // Waits for a permit; returns a guard that releases it when destroyed.
    [[nodiscard]] scoped_awaiter scoped() noexcept;

protected:
    semaphore(std::ptrdiff_t value, bool bounded) {
        if (value < 0) {
            throw std::invalid_argument("weft::semaphore: the initial value must be >= 0, got " +
                                        std::to_string(value));
        }
        state_.store(static_cast<std::uint64_t>(value) * one, std::memory_order_relaxed);
        bound_ = bounded ? static_cast<std::uint64_t>(value) : ~std::uint64_t{0};
    }

private:
    void check_bound(std::uint64_t s) const {
        if (WEFT_UNLIKELY(s / one >= bound_)) {
            throw std::logic_error("weft::bounded_semaphore::release: released too many times");
        }
    }
    // ---- with the list lock held
    void add_permits_locked(std::uint64_t n) noexcept {
        // release: as in release()'s fast path. A fetch_add, because an
        // uncontended acquire or release may change the count meanwhile when
        // neither flag is set.
        state_.fetch_add(n * one, std::memory_order_release);
    }
    // Sets or clears the flags to match the list and pending_ (the only
    // writers of the flags hold the lock).
    void update_flags_locked() noexcept {
        std::uint64_t want = (list_.empty() ? 0 : waiters_bit) | (pending_ ? pending_bit : 0);
        std::uint64_t s = state_.load(std::memory_order_relaxed);
        while ((s & flags) != want &&
               !state_.compare_exchange_weak(s, (s & ~flags) | want, std::memory_order_relaxed,
                                             std::memory_order_relaxed)) {
        }
    }
    // asyncio 3.13's `while self._value > 0: self._wake_up_next()`: hands the
    // free permits to the waiters that queued behind a pending one.
    void wake_waiters_locked(detail::wake_chain& woken) noexcept {
        std::uint64_t s = state_.load(std::memory_order_relaxed);
        while (s >= one && !list_.empty()) {
            // acquire: the permit came from a release.
            if (!state_.compare_exchange_weak(s, s - one, std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
                continue;
            }
            list_.grant_front(woken);
            ++pending_;
            s -= one;
        }
        update_flags_locked();
    }
    // A waiter that was handed a permit runs (kept = false: it was cancelled
    // meanwhile and gives the permit back).
    void granted_waiter_resumed(bool kept) noexcept {
        detail::wake_chain woken;
        std::lock_guard held(list_.mutex());
        --pending_;
        if (!kept) add_permits_locked(1);
        wake_waiters_locked(woken);
    }
    // A waiter cancelled before it was handed anything.
    void cancelled_waiter_resumed() noexcept {
        detail::wake_chain woken;
        std::lock_guard held(list_.mutex());
        wake_waiters_locked(woken);
    }

    std::atomic<std::uint64_t> state_{0};
    std::uint64_t bound_ = 0;
    std::size_t pending_ = 0;  // under the list lock
    mutable detail::wait_list list_;
};

class semaphore::awaiter {
public:
    explicit awaiter(semaphore& s) noexcept : sem_(s) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;

    bool await_ready() noexcept {
        acquired_ = sem_.try_acquire();
        return acquired_ && detail::consume_budget();
    }

    bool await_suspend(std::coroutine_handle<> h) {
        detail::task_record& t = detail::current_task_for_await("weft::semaphore::acquire");
        t.link = h;
        if (acquired_) {  // got one, but out of budget: yield once, holding it
            event_loop::current()->push_ready(event_loop::tag_task(&t));
            return true;
        }
        waiter_.hook(t, sem_.list_);
        std::lock_guard held(sem_.list_.mutex());
        if (waiter_.node().is_cancelled()) return false;
        // Nobody ahead (the list and pending_ are stable under the lock):
        // take a free permit, clearing a stale waiters bit on the way. Else
        // set the waiters bit in the same CAS loop, so that a release that
        // adds a permit after our look either made us take it or goes
        // through the lock and finds us linked.
        bool nobody_ahead = sem_.list_.empty() && sem_.pending_ == 0;
        for (std::uint64_t s = sem_.state_.load(std::memory_order_relaxed);;) {
            if (nobody_ahead && s >= one) {
                // acquire: pairs with the release that made the permit free.
                if (sem_.state_.compare_exchange_weak(s, (s - one) & ~waiters_bit,
                                                      std::memory_order_acquire,
                                                      std::memory_order_relaxed)) {
                    sem_.list_.complete_unlinked(&waiter_.node());
                    acquired_ = true;
                    return false;
                }
                continue;
            }
            if ((s & waiters_bit) ||
                sem_.state_.compare_exchange_weak(s, s | waiters_bit, std::memory_order_relaxed,
                                                  std::memory_order_relaxed)) {
                break;
            }
        }
        sem_.list_.push_back(&waiter_.node());
        return true;  // the unlock publishes the node: nothing is touched after it
    }

    bool await_resume() {
        if (waiter_.hooked()) {
            waiter_.unhook("weft::semaphore::acquire", [this] {
                if (!acquired_) sem_.cancelled_waiter_resumed();
            });
            if (!acquired_) {  // handed a permit by release()
                try {
                    detail::check_cancelled();
                } catch (...) {
                    sem_.granted_waiter_resumed(false);  // asyncio: give it back for the next
                    throw;
                }
                sem_.granted_waiter_resumed(true);
                return true;
            }
        }
        try {
            detail::check_cancelled();
        } catch (...) {
            sem_.release();
            throw;
        }
        return true;
    }

protected:
    semaphore& sem_;

private:
    bool acquired_ = false;
    detail::list_waiter waiter_;
};

// Holds one permit until destroyed (or released early).
class semaphore::guard {
public:
    explicit guard(semaphore& s) noexcept : sem_(&s) {}
    guard(guard&& o) noexcept : sem_(std::exchange(o.sem_, nullptr)) {}
    guard& operator=(guard&& o) noexcept {
        if (this != &o) {
            reset();
            sem_ = std::exchange(o.sem_, nullptr);
        }
        return *this;
    }
    ~guard() { reset(); }
    void release() {
        if (sem_) std::exchange(sem_, nullptr)->release();
    }
    bool owns_permit() const noexcept { return sem_ != nullptr; }

private:
    void reset() noexcept {
        // A permit taken by acquire() never exceeds the bound when returned.
        if (sem_) std::exchange(sem_, nullptr)->release();
    }
    semaphore* sem_;
};

class semaphore::scoped_awaiter : public semaphore::awaiter {
public:
    using awaiter::awaiter;
    guard await_resume() {
        awaiter::await_resume();
        return guard(sem_);
    }
};

inline semaphore::awaiter semaphore::acquire() noexcept {
    return awaiter(*this);
}
inline semaphore::scoped_awaiter semaphore::scoped() noexcept {
    return scoped_awaiter(*this);
}

// asyncio.BoundedSemaphore: release() raises std::logic_error when it would
// raise the count of free permits above the initial value (a release without
// a matching acquire).
class bounded_semaphore : public semaphore {
public:
    explicit bounded_semaphore(std::ptrdiff_t value = 1) : semaphore(value, true) {}
};

}  // namespace weft
