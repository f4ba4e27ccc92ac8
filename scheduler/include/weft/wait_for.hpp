// Deadlines: wait_for() (asyncio.wait_for) and timeout scopes
// (asyncio.timeout / asyncio.timeout_at).
//
//     int v = co_await weft::wait_for(fetch(), 2.0);     // timeout_error after 2 s
//
//     weft::timeout_scope cm = weft::timeout(0.2);
//     co_await cm.run(body());                           // body cancelled at the deadline,
//     cm.expired();                                      // which becomes timeout_error
//
// On timeout wait_for cancels the awaited task and waits for it to finish
// before raising, so nothing it started is still running afterwards (except
// an executor's job that cannot be stopped: see cancel_and_wait). Negative
// or NaN timeouts raise std::invalid_argument.
#pragma once

#include <cmath>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <weft/detail/awaitable_traits.hpp>
#include <weft/detail/timeout_arg.hpp>
#include <weft/errors.hpp>
#include <weft/event_loop.hpp>
#include <weft/future.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>
#include <weft/wait.hpp>

namespace weft {

namespace detail {

// asyncio's _cancel_and_wait: cancel `f` and wait until it is done. A job
// that declines (an executor's, running on a thread that cannot be stopped)
// is not waited for: asyncio waits for wrap_future's own future, which is
// cancelled at once; the job runs on, and its result is nobody's business.
template <class H>
task<void> cancel_and_wait(H& f) {
    future<void> waiter(get_running_loop());
    release_waiter cb{waiter};
    f.add_done_callback(cb);
    std::exception_ptr failure;
    try {
        if (f.cancel() || !core_of(f)->declined_cancel()) co_await waiter;
    } catch (...) {
        failure = std::current_exception();
    }
    f.remove_done_callback(cb);
    if (failure) std::rethrow_exception(failure);
}

// The result of `f`, moved out when wait_for made the task itself (nobody
// else can see it), else copied.
template <bool Owned, class H>
typename H::value_type result_of(H& f) {
    using T = typename H::value_type;
    if constexpr (std::is_void_v<T>) {
        f.result();
    } else if constexpr (Owned && !std::is_reference_v<T>) {
        return std::move(f.result());
    } else {
        return f.result();
    }
}

}  // namespace detail

// Waits for `aw` (a lazy task, a task handle or a future) for at most
// `timeout`; on timeout cancels it, waits for the cancellation to finish and
// raises timeout_error. std::nullopt waits without limit.
template <class A>
task<typename detail::traits_of<A>::value_type> wait_for(A aw, std::optional<timeout_arg> timeout) {
    using traits = detail::traits_of<A>;
    constexpr bool owned =
        std::is_same_v<std::remove_cvref_t<A>, task<typename traits::value_type>>;
    if (!timeout) {
        if constexpr (owned) {
            co_return co_await std::move(aw);  // a lazy task runs inline, as asyncio does
        } else {
            co_return co_await aw;  // copies: the handle's result stays in place
        }
    }
    double limit = timeout->checked("weft::wait_for");
    event_loop& loop = get_running_loop();
    auto fut = detail::ensure_future(std::move(aw));

    if (limit <= 0) {
        if (fut.done()) co_return detail::result_of<owned>(fut);
        co_await detail::cancel_and_wait(fut);
        if (fut.cancelled() || !fut.done()) throw timeout_error();
        co_return detail::result_of<owned>(fut);
    }

    future<void> waiter(loop);
    timer_handle timer = loop.call_later(limit, detail::release_waiter{waiter});
    struct cancel_timer {
        timer_handle& t;
        ~cancel_timer() { t.cancel(); }
    } guard{timer};
    detail::release_waiter cb{waiter};
    fut.add_done_callback(cb);

    std::exception_ptr cancelled;
    try {
        co_await waiter;
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (fut.done()) co_return detail::result_of<owned>(fut);
    fut.remove_done_callback(cb);
    // Make sure the task is not running once wait_for returns.
    co_await detail::cancel_and_wait(fut);
    if (cancelled) std::rethrow_exception(cancelled);
    // Not done: a job that declined the cancel runs on, unobserved.
    if (fut.cancelled() || !fut.done()) throw timeout_error();
    co_return detail::result_of<owned>(fut);
}

// asyncio.Timeout: cancels the current task at a deadline and turns that
// cancellation into timeout_error where the scope ends.
class timeout_scope {
public:
    // `when` is a loop time() in seconds; nullopt: no deadline (yet).
    explicit timeout_scope(std::optional<double> when) : s_(std::make_shared<shared>()) {
        s_->when = when;
    }

    std::optional<double> when() const {
        std::lock_guard lock(s_->mutex);
        return s_->when;
    }
    // Moves the deadline (loop time, seconds); only inside run().
    void reschedule(std::optional<double> when);
    // Whether the deadline passed and cancelled the body.
    bool expired() const {
        std::lock_guard lock(s_->mutex);
        return s_->state == expiring || s_->state == expired_state;
    }

    // Runs `body` inline in the current task under this deadline.
    template <class T>
    task<T> run(task<T> body) {
        enter();
        std::exception_ptr failure;
        if constexpr (std::is_void_v<T>) {
            try {
                co_await std::move(body);
            } catch (...) {
                failure = std::current_exception();
            }
            exit(failure);
        } else {
            std::optional<T> result;
            try {
                result.emplace(co_await std::move(body));
            } catch (...) {
                failure = std::current_exception();
            }
            exit(failure);
            co_return std::move(*result);
        }
    }

private:
    enum state_t { created, entered, expiring, expired_state, exited };
    // The deadline's callback runs on whichever worker holds the timer (Go
    // mode), maybe after the scope is gone: it holds this block, not the
    // scope, and `mutex` orders it against the task.
    struct shared {
        std::mutex mutex;
        std::optional<double> when;
        state_t state = created;
        task_ref task;
        handle handler;
    };
    void enter();
    // Throws: timeout_error when the deadline cancelled the body, else
    // rethrows `failure` if any.
    void exit(std::exception_ptr failure);
    static void on_timeout(const std::shared_ptr<shared>& s);
    static void schedule_locked(const std::shared_ptr<shared>& s);

    std::shared_ptr<shared> s_;
};

// A scope whose deadline is `delay` from now (nullopt: none).
inline timeout_scope timeout(std::optional<timeout_arg> delay) {
    if (!delay) return timeout_scope(std::nullopt);
    double d = delay->checked("weft::timeout");
    return timeout_scope(get_running_loop().time() + d);
}
// A scope whose deadline is the loop time `when`.
inline timeout_scope timeout_at(std::optional<double> when) {
    if (when && std::isnan(*when)) throw std::invalid_argument("weft::timeout_at: deadline is NaN");
    return timeout_scope(when);
}

inline void timeout_scope::enter() {
    std::lock_guard lock(s_->mutex);
    if (s_->state != created) throw std::logic_error("weft::timeout_scope: already used");
    s_->task = current_task();
    if (!s_->task) throw std::logic_error("weft::timeout_scope: must run inside a task");
    s_->state = entered;
    schedule_locked(s_);
}

inline void timeout_scope::reschedule(std::optional<double> when) {
    std::lock_guard lock(s_->mutex);
    if (s_->state != entered) {
        throw std::logic_error("weft::timeout_scope::reschedule: the scope is not running");
    }
    s_->when = when;
    schedule_locked(s_);
}

inline void timeout_scope::schedule_locked(const std::shared_ptr<shared>& s) {
    s->handler.cancel();
    s->handler = handle();
    if (!s->when) return;
    event_loop& loop = get_running_loop();
    std::weak_ptr<shared> weak = s;
    auto fire = [weak] {
        if (auto alive = weak.lock()) on_timeout(alive);
    };
    if (*s->when <= loop.time()) {
        s->handler = loop.call_soon(fire);
    } else {
        s->handler = loop.call_at(*s->when, fire);
    }
}

inline void timeout_scope::on_timeout(const std::shared_ptr<shared>& s) {
    std::lock_guard lock(s->mutex);
    if (s->state != entered) return;  // the body ended as the deadline passed
    s->task.cancel();
    s->state = expiring;
    s->handler = handle();
}

inline void timeout_scope::exit(std::exception_ptr failure) {
    std::unique_lock lock(s_->mutex);
    s_->handler.cancel();
    s_->handler = handle();
    if (s_->state == expiring) {
        s_->state = expired_state;
        bool was_cancel = false;
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const cancelled_error&) {
                was_cancel = true;
            } catch (...) {
            }
        }
        // No other cancel requests outstanding: this cancellation is ours.
        if (s_->task.uncancel() == 0 && was_cancel) throw timeout_error();
    } else if (s_->state == entered) {
        s_->state = exited;
    }
    lock.unlock();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace weft
