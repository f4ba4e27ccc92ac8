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
// before raising, so nothing it started is still running afterwards. Negative
// or NaN timeouts raise std::invalid_argument.
#pragma once

#include <cmath>
#include <exception>
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

// asyncio's _cancel_and_wait: cancel `f` and wait until it is done.
template <class H>
task<void> cancel_and_wait(H& f) {
    future<void> waiter(get_running_loop());
    release_waiter cb{waiter};
    f.add_done_callback(cb);
    std::exception_ptr failure;
    try {
        f.cancel();
        co_await waiter;
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
        if (fut.cancelled()) throw timeout_error();
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
    if (fut.cancelled()) throw timeout_error();
    co_return detail::result_of<owned>(fut);
}

// asyncio.Timeout: cancels the current task at a deadline and turns that
// cancellation into timeout_error where the scope ends.
class timeout_scope {
  public:
    // `when` is a loop time() in seconds; nullopt: no deadline (yet).
    explicit timeout_scope(std::optional<double> when) noexcept : when_(when) {}
    // Pinned: the deadline's timer refers to the scope.
    timeout_scope(const timeout_scope&) = delete;
    timeout_scope& operator=(const timeout_scope&) = delete;

    std::optional<double> when() const noexcept { return when_; }
    // Moves the deadline (loop time, seconds); only inside run().
    void reschedule(std::optional<double> when);
    // Whether the deadline passed and cancelled the body.
    bool expired() const noexcept { return state_ == expiring || state_ == expired_state; }

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
    void enter();
    // Throws: timeout_error when the deadline cancelled the body, else
    // rethrows `failure` if any.
    void exit(std::exception_ptr failure);
    void on_timeout();

    std::optional<double> when_;
    state_t state_ = created;
    task_ref task_;
    handle handler_;
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
    if (state_ != created) throw std::logic_error("weft::timeout_scope: already used");
    state_ = entered;
    task_ = current_task();
    if (!task_) throw std::logic_error("weft::timeout_scope: must run inside a task");
    reschedule(when_);
}

inline void timeout_scope::reschedule(std::optional<double> when) {
    if (state_ != entered) {
        throw std::logic_error("weft::timeout_scope::reschedule: the scope is not running");
    }
    when_ = when;
    handler_.cancel();
    handler_ = handle();
    if (!when) return;
    event_loop& loop = get_running_loop();
    if (*when <= loop.time()) {
        handler_ = loop.call_soon([this] { on_timeout(); });
    } else {
        handler_ = loop.call_at(*when, [this] { on_timeout(); });
    }
}

inline void timeout_scope::on_timeout() {
    task_.cancel();
    state_ = expiring;
    handler_ = handle();
}

inline void timeout_scope::exit(std::exception_ptr failure) {
    handler_.cancel();
    handler_ = handle();
    if (state_ == expiring) {
        state_ = expired_state;
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
        if (task_.uncancel() == 0 && was_cancel) throw timeout_error();
    } else if (state_ == entered) {
        state_ = exited;
    }
    if (failure) std::rethrow_exception(failure);
}

}  // namespace weft
