// weft::executor_future<T>: the result of a job handed to an executor, as
// concurrent.futures.Future is for Python's pools. Thread-safe: any thread
// may wait for it (get, wait_for), any task may co_await it.
//
//     weft::thread_pool_executor pool(4);
//     weft::executor_future<int> f = pool.submit(slow_square, 7);
//     int v = f.get();                         // a plain thread blocks
//     int w = co_await pool.submit(slow_square, 8);   // a task suspends
//
// What cancel() does depends on where the future came from:
//   - executor::submit: concurrent.futures' rule: only a job that has not
//     started can be cancelled; cancel() is false once it runs.
//   - run_in_executor / to_thread: asyncio's rule: the future is cancelled at
//     once; a queued job never runs, a running one is stopped where the
//     executor can (a process pool kills its worker) and otherwise finishes
//     with its result dropped.
// A task that gives up awaiting either kind (it is cancelled, or the deadline
// of a wait_for or timeout scope passes) stops at once, as with asyncio's
// wrap_future: a queued job is cancelled, a running process-pool call is
// killed (its future ends cancelled), a running thread-pool job finishes
// unobserved (a submit() future still gets its result; run_in_executor's is
// cancelled and drops it). See job_base::cancel_awaited.
//
// Awaiting: the task first polls the job from its loop for a few tens of
// microseconds (detail::job_spin_ns), so a short job comes back without an
// OS wake-up, then parks on the future; the executor's completion wakes it
// through the loop's thread-safe path. No thread blocks for it.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <future>
#include <string>
#include <type_traits>
#include <utility>

#include <weft/detail/awaitable_traits.hpp>
#include <weft/detail/timeout_arg.hpp>
#include <weft/errors.hpp>
#include <weft/event_loop.hpp>
#include <weft/executors/detail/job_state.hpp>
#include <weft/future.hpp>

namespace weft {

template <class T = void>
class executor_future {
public:
    using value_type = T;

    // An empty future (valid() is false).
    executor_future() noexcept = default;
    executor_future(const executor_future& o) noexcept : state_(o.state_) {
        if (state_) state_->add_ref();
    }
    executor_future(executor_future&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
    executor_future& operator=(executor_future o) noexcept {
        std::swap(state_, o.state_);
        return *this;
    }
    ~executor_future() {
        if (state_) state_->release();
    }
    // Adopts a reference to `s` (executors make them).
    explicit executor_future(detail::job_state<T>* s) noexcept : state_(s) {}

    bool valid() const noexcept { return state_ != nullptr; }
    bool done() const { return st().done(); }
    bool cancelled() const { return st().cancelled(); }
    // A worker is running the job now.
    bool running() const { return st().phase() == detail::job_base::running && !st().done(); }
    // See the top of the file: false if the job can no longer be cancelled.
    bool cancel() { return st().cancel_job(nullptr); }
    bool cancel(const std::string& message) { return st().cancel_job(&message); }

    // ---- blocking (for plain threads)
    void wait() const { detail::wait_job(&st(), st(), -1); }
    template <class Rep, class Period>
    std::future_status wait_for(std::chrono::duration<Rep, Period> d) const {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
        return detail::wait_job(&st(), st(), event_loop::time_ns() + (ns > 0 ? ns : 0))
                   ? std::future_status::ready
                   : std::future_status::timeout;
    }
    template <class Clock, class Duration>
    std::future_status wait_until(std::chrono::time_point<Clock, Duration> t) const {
        return wait_for(t - Clock::now());
    }
    // Waits, then returns a reference to the result (kept by the future) or
    // rethrows the job's exception (cancelled_error if cancelled).
    decltype(auto) get() const {
        wait();
        st().rethrow_if_failed("get");
        if constexpr (!std::is_void_v<T>) return st().value();
    }
    // concurrent.futures' result(timeout): get() waiting at most `timeout`,
    // then raising timeout_error.
    decltype(auto) result(timeout_arg timeout) const {
        auto ns = static_cast<std::int64_t>(timeout.checked("executor_future::result") * 1e9);
        if (!detail::wait_job(&st(), st(), event_loop::time_ns() + ns)) {
            throw timeout_error("executor_future::result: not done after " +
                                std::to_string(timeout.seconds()) + " s");
        }
        return get();
    }
    // Waits, then returns the job's exception (null if it succeeded).
    std::exception_ptr exception() const {
        wait();
        if (st().cancelled()) throw st().make_cancelled_error();
        st().mark_retrieved();
        return st().exception_unchecked();
    }

    // Done-callbacks receive an executor_future<T>&. They run on the thread
    // that completes the job, or, where that thread runs an event loop, are
    // scheduled on it; at once (the same way) if the job is done already.
    template <class F>
    void add_done_callback(F&& f) {
        detail::add_done_callback<executor_future>(&st(), std::forward<F>(f));
    }
    template <class F>
    std::size_t remove_done_callback(const F& f) {
        return detail::remove_done_callback(&st(), f);
    }

    // ---- awaiting (for tasks)
    struct awaiter : detail::job_awaiter_base {
        using job_awaiter_base::job_awaiter_base;
        decltype(auto) await_resume() {
            finish_wait();
            if constexpr (!std::is_void_v<T>)
                return static_cast<detail::job_state<T>*>(target_)->value();
        }
    };
    struct move_awaiter : detail::job_awaiter_base {
        using job_awaiter_base::job_awaiter_base;
        T await_resume() {
            finish_wait();
            if constexpr (!std::is_void_v<T>)
                return std::move(static_cast<detail::job_state<T>*>(target_)->value());
        }
    };
    // `co_await f` yields a reference to the result; `co_await std::move(f)`
    // (or awaiting a temporary, as `co_await run_in_executor(...)` does)
    // moves it out.
    awaiter operator co_await() const& { return awaiter(&st(), st().delivered_by_loop); }
    move_awaiter operator co_await() && { return move_awaiter(&st(), st().delivered_by_loop); }

    // The same result seen as a weft::future (shield, wait_for, gather and
    // wait take executor futures directly through this).
    future<T> as_future() const { return future<T>::from_core(&st()); }

    static executor_future from_core(detail::future_core* f) noexcept {
        f->add_ref();
        return executor_future(
            static_cast<detail::job_state<T>*>(static_cast<detail::future_state<T>*>(f)));
    }
    detail::future_core* core() const noexcept { return state_; }

private:
    detail::job_state<T>& st() const {
        if (WEFT_UNLIKELY(state_ == nullptr)) {
            throw invalid_state_error(
                "weft::executor_future: empty future (default-constructed "
                "or moved from)");
        }
        return *state_;
    }
    detail::job_state<T>* state_ = nullptr;
};

namespace detail {
// gather, wait, as_completed and shield accept executor futures.
template <class T>
struct awaitable_traits<executor_future<T>> {
    using value_type = T;
    using handle_type = future<T>;
    static handle_type ensure(const executor_future<T>& f) { return f.as_future(); }
};
}  // namespace detail

}  // namespace weft
