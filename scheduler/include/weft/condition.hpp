// weft::condition: asyncio.Condition (Python 3.13's), safe across threads.
//
//     weft::condition cond;                      // with a lock of its own, or
//     weft::condition cond2(some_lock);          // bound to a weft::lock you keep alive
//     {
//         auto held = co_await cond.scoped();    // `async with cond:`
//         co_await cond.wait_for([&] { return ready; });
//     }
//     ... { auto held = co_await cond.scoped(); ready = true; cond.notify_all(); }
//
// wait() must be called holding the lock; it releases it, waits for a
// notify, and takes the lock again before returning, also when the wait is
// cancelled (asyncio re-acquires even then, and raises afterwards). notify(n)
// wakes the n longest-waiting tasks, notify_all() all of them; both require
// the lock to be held. As in Python 3.13, a waiter that leaves wait() with an
// exception (a cancel, say) passes a notification on to the next waiter, so
// none is lost when a notified waiter is cancelled before it runs; like any
// condition variable this can wake a task without a matching notify, so wait
// in a loop (wait_for does).
//
// Across threads, a waiter links itself on the condition's list before it
// releases the lock, so a notify made by whoever takes the lock next always
// finds it: no wake-up is lost between the release and the wait.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <weft/detail/config.hpp>
#include <weft/detail/list_wait.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/wait_list.hpp>
#include <weft/errors.hpp>
#include <weft/lock.hpp>
#include <weft/task.hpp>

namespace weft {

class condition {
public:
    // With a lock of its own.
    condition() noexcept : lock_(&own_) {}
    // Bound to `l`, which must outlive the condition.
    explicit condition(lock& l) noexcept : lock_(&l) {}
    condition(const condition&) = delete;
    condition& operator=(const condition&) = delete;

    // The lock's own operations (asyncio exports them on the condition).
    lock& get_lock() noexcept { return *lock_; }
    bool locked() const noexcept { return lock_->locked(); }
    [[nodiscard]] lock::awaiter acquire() noexcept { return lock_->acquire(); }
    [[nodiscard]] lock::scoped_awaiter scoped() noexcept { return lock_->scoped(); }
    void release() { lock_->release(); }

    // Releases the lock, waits until notified, re-acquires the lock; returns
    // true. Raises std::logic_error if the lock is not held.
    task<bool> wait();

    // Waits until pred() is true (checked first, and after every wake-up,
    // with the lock held); returns pred()'s last value. Raises
    // std::logic_error if the lock is not held and pred() is false.
    template <class Pred>
    task<std::decay_t<std::invoke_result_t<Pred&>>> wait_for(Pred pred) {
        auto result = pred();
        while (!result) {
            co_await wait();
            result = pred();
        }
        co_return result;
    }

    // Wakes up to n of the tasks waiting, longest-waiting first. Raises
    // std::logic_error if the lock is not held.
    void notify(std::size_t n = 1) {
        if (!lock_->locked())
            throw std::logic_error("weft::condition::notify: cannot notify on un-acquired lock");
        notify_waiters(n);
    }
    void notify_all() {
        if (!lock_->locked())
            throw std::logic_error(
                "weft::condition::notify_all: cannot notify on un-acquired lock");
        notify_waiters(std::numeric_limits<std::size_t>::max());
    }

private:
    class wait_awaiter;

    void notify_waiters(std::size_t n) noexcept {
        detail::wake_chain woken;  // destroyed after the guard: wakes after the unlock
        std::lock_guard held(waiters_.mutex());
        for (std::size_t i = 0; i < n && waiters_.grant_front(woken); ++i) {
        }
    }

    lock own_;
    lock* lock_;
    detail::wait_list waiters_;
};

// Links the task on the condition's list, then releases the lock: from the
// release on, the task may be notified (or cancelled) and resumed on another
// worker, so the release goes through locals only.
class condition::wait_awaiter {
public:
    explicit wait_awaiter(condition& c) noexcept : cond_(c) {}
    wait_awaiter(const wait_awaiter&) = delete;
    wait_awaiter& operator=(const wait_awaiter&) = delete;

    bool await_ready() const noexcept { return false; }

    bool await_suspend(std::coroutine_handle<> h) {
        detail::task_record& t = detail::current_task_for_await("weft::condition::wait");
        t.link = h;
        lock* l = cond_.lock_;
        waiter_.hook(t, cond_.waiters_);
        bool wait;
        {
            std::lock_guard held(cond_.waiters_.mutex());
            wait = !waiter_.node().is_cancelled();  // a pending cancel: released, then raised
            if (wait) cond_.waiters_.push_back(&waiter_.node());
        }
        // From here the node may be granted and the task resumed elsewhere.
        release_held(l);
        return wait;
    }

    void await_resume() {
        waiter_.unhook("weft::condition::wait");
        detail::check_cancelled();  // notified, then cancelled before it ran
    }

private:
    static void release_held(lock* l) noexcept {
        try {
            l->release();
        } catch (const std::logic_error&) {
            // Released by someone else while wait() was starting (only a
            // program that releases a lock it does not hold gets here):
            // there is nothing left to release, and the wait goes on.
        }
    }

    condition& cond_;
    detail::list_waiter waiter_;
};

inline task<bool> condition::wait() {
    if (!lock_->locked())
        throw std::logic_error("weft::condition::wait: cannot wait on un-acquired lock");
    std::exception_ptr failure;
    try {
        co_await wait_awaiter(*this);
    } catch (const cancelled_error&) {
        failure = std::current_exception();
    }  // anything else (the condition destroyed under the waiter) leaves at once
    // Re-acquire the lock even if the wait was cancelled; a cancel during
    // the re-acquisition is kept, and the latest one raised afterwards.
    for (;;) {
        try {
            co_await lock_->acquire();
            break;
        } catch (const cancelled_error&) {
            failure = std::current_exception();
        } catch (...) {
            notify_waiters(1);  // as below; the lock could not be taken again
            throw;
        }
    }
    if (failure) {
        // This task may have been notified before it failed: make sure
        // another waiter gets the notification (a spurious wake-up at worst).
        notify_waiters(1);
        std::rethrow_exception(failure);
    }
    co_return true;
}

}  // namespace weft
