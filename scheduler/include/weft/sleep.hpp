// sleep(): suspend the current task for a while (asyncio.sleep).
//
//     co_await weft::sleep(0.5);            // seconds, like asyncio
//     co_await weft::sleep(500ms);          // or any std::chrono duration
//     auto v = co_await weft::sleep(1s, 42);  // returns 42 after a second
//
// sleep(0) (and yield_now()) gives up the loop for exactly one iteration.
// Negative delays count as zero. Cancelling the task wakes it at once with
// cancelled_error.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <weft/detail/callback.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>

namespace weft {

namespace detail {

// The timer behind a sleep. When its deadline comes the loop runs it like any
// timer callback, and it wakes the task, so the task resumes one iteration
// after the timer fires: the same two hops as asyncio's future plus
// call_later. `state` decides between that and a cancellation, exactly once.
struct sleep_timer final : callback_base, pooled {
    enum : std::uint8_t { pending, fired, cancelled_by_task };

    explicit sleep_timer(task_record* t) noexcept : callback_base(&run, &drop, 2), task(t) {}

    static void run(callback_base* b) {
        auto* self = static_cast<sleep_timer*>(b);
        std::uint8_t expected = pending;
        // acq_rel: wins against a concurrent cancel; the wake publishes it.
        if (self->state.compare_exchange_strong(expected, fired, std::memory_order_acq_rel)) {
            self->task->wake();
        }
    }
    static void drop(callback_base* b) noexcept { delete static_cast<sleep_timer*>(b); }

    task_record* task;
    std::atomic<std::uint8_t> state{pending};
};

class sleep_awaiter_base : public cancel_hook {
public:
    explicit sleep_awaiter_base(std::int64_t delay_ns) noexcept : delay_ns_(delay_ns) {}
    sleep_awaiter_base(const sleep_awaiter_base&) = delete;
    sleep_awaiter_base& operator=(const sleep_awaiter_base&) = delete;
    ~sleep_awaiter_base() {
        if (timer_ != nullptr) {
            // Torn down while waiting (loop close): stop the timer.
            self_->clear_hook(this);
            timer_->cancelled.store(true, std::memory_order_relaxed);
            timer_->release();
        }
    }

    bool await_ready() const noexcept { return false; }

    void await_suspend(std::coroutine_handle<> h) {
        task_record& t = current_task_for_await("weft::sleep");
        t.link = h;
        event_loop& loop = get_running_loop();
        if (delay_ns_ <= 0) {
            // asyncio's sleep(0): a bare yield; the task goes to the back of
            // the ready queue. No hook: a cancel sets must_cancel instead.
            // Nothing may touch `this` after the push: in Go mode another
            // worker can resume the task at once.
            loop.push_ready(event_loop::tag_task(&t));
            return;
        }
        self_ = &t;
        sleep_timer* timer = timer_ = new sleep_timer(&t);
        cancel = &cancel_sleep;
        std::int64_t when = event_loop::time_ns() + delay_ns_;
        // The hook, which lets a cancel from another worker wake the task,
        // is the last thing here that touches `this`. The timer goes in after
        // it, from locals: in Go mode it may fire on another thread (this one
        // may have lost its loop, blocked in this step), and a cancel that
        // comes first merely leaves a cancelled timer in the heap.
        t.set_hook(this);
        loop.add_timer(timer, when);  // takes the heap's reference
    }

protected:
    void finish_sleep() {
        if (timer_ != nullptr) {
            self_->clear_hook(this);
            bool was_cancelled =
                timer_->state.load(std::memory_order_acquire) == sleep_timer::cancelled_by_task;
            timer_->release();
            timer_ = nullptr;
            if (was_cancelled) {
                self_->end_cancelled_wait(this);
                if (message_) throw cancelled_error(std::move(*message_));
                throw cancelled_error();
            }
        }
        check_cancelled();
    }

private:
    static bool cancel_sleep(cancel_hook* h, const std::string* message) {
        auto* self = static_cast<sleep_awaiter_base*>(h);
        sleep_timer* timer = self->timer_;
        std::uint8_t expected = sleep_timer::pending;
        // acq_rel: wins against the timer firing (see sleep_timer::run).
        if (!timer->state.compare_exchange_strong(expected, sleep_timer::cancelled_by_task,
                                                  std::memory_order_acq_rel)) {
            return false;  // fired first: the task is already scheduled
        }
        if (message) self->message_ = std::make_unique<std::string>(*message);
        cancel_callback(timer);  // the loop drops the heap entry
        self->self_->wake();
        return true;
    }

    std::int64_t delay_ns_;
    task_record* self_ = nullptr;
    sleep_timer* timer_ = nullptr;
    std::unique_ptr<std::string> message_;
};

template <class T>
class sleep_awaiter : public sleep_awaiter_base {
public:
    sleep_awaiter(std::int64_t delay_ns, T value)
        : sleep_awaiter_base(delay_ns), value_(std::move(value)) {}
    T await_resume() {
        finish_sleep();
        return std::move(value_);
    }

private:
    T value_;
};

template <>
class sleep_awaiter<void> : public sleep_awaiter_base {
public:
    using sleep_awaiter_base::sleep_awaiter_base;
    void await_resume() { finish_sleep(); }
};

inline std::int64_t to_ns(double seconds) noexcept {
    return seconds > 0 ? static_cast<std::int64_t>(seconds * 1e9) : 0;
}
template <class Rep, class Period>
std::int64_t to_ns(std::chrono::duration<Rep, Period> d) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

}  // namespace detail

[[nodiscard]] inline detail::sleep_awaiter<void> sleep(double seconds) noexcept {
    return detail::sleep_awaiter<void>(detail::to_ns(seconds));
}
template <class Rep, class Period>
[[nodiscard]] detail::sleep_awaiter<void> sleep(std::chrono::duration<Rep, Period> d) noexcept {
    return detail::sleep_awaiter<void>(detail::to_ns(d));
}
template <class T>
[[nodiscard]] detail::sleep_awaiter<std::decay_t<T>> sleep(double seconds, T&& result) {
    return detail::sleep_awaiter<std::decay_t<T>>(detail::to_ns(seconds), std::forward<T>(result));
}
template <class Rep, class Period, class T>
[[nodiscard]] detail::sleep_awaiter<std::decay_t<T>> sleep(std::chrono::duration<Rep, Period> d,
                                                           T&& result) {
    return detail::sleep_awaiter<std::decay_t<T>>(detail::to_ns(d), std::forward<T>(result));
}

// Gives the loop one iteration to other ready work (Go's Gosched, Tokio's
// yield_now): the same as sleep(0).
[[nodiscard]] inline detail::sleep_awaiter<void> yield_now() noexcept {
    return detail::sleep_awaiter<void>(0);
}

}  // namespace weft
