// weft::future<T>: asyncio's Future. A result that some code sets later and
// any number of tasks await.
//
//     weft::future<int> f;                // pending, bound to the running loop
//     loop.call_later(0.1, [f]() mutable { f.set_result(10); });
//     int v = co_await f;                 // suspends until set
//
// A future is a shared reference: copies refer to the same state. It may be
// completed, awaited and given callbacks from any worker of the runtime.
#pragma once

#include <cstddef>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include <weft/detail/completion_awaiter.hpp>
#include <weft/detail/future_core.hpp>
#include <weft/event_loop.hpp>
#include <weft/task.hpp>

namespace weft {

namespace detail {

template <class T>
class future_state : public plain_future_core, public pooled {
public:
    explicit future_state(event_loop* loop, const future_ops* custom = &ops,
                          std::uint32_t refs = 1) noexcept
        : plain_future_core(custom, loop, refs, 0) {}
    ~future_state() {
        if (flags(std::memory_order_relaxed) & f_has_value) slot_.destroy();
    }
    result_slot<T>& slot() noexcept { return slot_; }
    decltype(auto) value() noexcept {
        if constexpr (!std::is_void_v<T>) return slot_.get();
    }
    static const future_ops ops;

private:
    static void destroy(future_core* f) noexcept { delete static_cast<future_state*>(f); }
    static bool cancel_future(future_core* f, const std::string* message) {
        return f->cancel_plain(message);
    }
    result_slot<T> slot_;
};

template <class T>
inline const future_ops future_state<T>::ops{&future_state<T>::destroy,
                                             &future_state<T>::cancel_future};

}  // namespace detail

template <class T = void>
class future {
public:
    using value_type = T;

    // A new pending future bound to the running loop (or to none: then its
    // done-callbacks run where it completes).
    future() : state_(new detail::future_state<T>(event_loop::current())) {}
    explicit future(event_loop& loop) : state_(new detail::future_state<T>(&loop)) {}
    future(const future& o) noexcept : state_(o.state_) { state_->add_ref(); }
    future(future&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
    future& operator=(future o) noexcept {
        std::swap(state_, o.state_);
        return *this;
    }
    ~future() {
        if (state_) state_->release();
    }

    static future from_core(detail::future_core* f) noexcept {
        f->add_ref();
        return future(static_cast<detail::future_state<T>*>(f));
    }

    bool done() const noexcept { return state_->done(); }
    bool cancelled() const noexcept { return state_->cancelled(); }

    // Completes the future; raises invalid_state_error if it is already done.
    template <class... A>
    void set_result(A&&... value) {
        claim("set_result");
        try {
            state_->slot().emplace(std::forward<A>(value)...);
        } catch (...) {
            state_->set_exception_claimed(std::current_exception());
            state_->publish(detail::f_finished | detail::f_has_exception);
            throw;
        }
        state_->publish(std::is_void_v<T>
                            ? std::uint32_t{detail::f_finished}
                            : std::uint32_t{detail::f_finished | detail::f_has_value});
    }
    // As set_result, but returns false instead of raising when the future is
    // already done: for code racing other completers (timers, callbacks on
    // other workers in Go mode).
    template <class... A>
    bool try_set_result(A&&... value) {
        if (!state_->try_claim()) return false;
        try {
            state_->slot().emplace(std::forward<A>(value)...);
        } catch (...) {
            state_->set_exception_claimed(std::current_exception());
            state_->publish(detail::f_finished | detail::f_has_exception);
            throw;
        }
        state_->publish(std::is_void_v<T>
                            ? std::uint32_t{detail::f_finished}
                            : std::uint32_t{detail::f_finished | detail::f_has_value});
        return true;
    }
    bool try_set_exception(std::exception_ptr e) {
        if (!e) throw std::invalid_argument("weft::future::try_set_exception: null exception_ptr");
        if (!state_->try_claim()) return false;
        state_->set_exception_claimed(std::move(e));
        state_->publish(detail::f_finished | detail::f_has_exception);
        return true;
    }

    void set_exception(std::exception_ptr e) {
        if (!e) throw std::invalid_argument("weft::future::set_exception: null exception_ptr");
        claim("set_exception");
        state_->set_exception_claimed(std::move(e));
        state_->publish(detail::f_finished | detail::f_has_exception);
    }
    template <class E>
    void set_exception(E&& e) {
        set_exception(std::make_exception_ptr(std::forward<E>(e)));
    }
    // Completes the future as cancelled; false if it was already done. (A
    // gather's future cancels its children instead, as asyncio's does.)
    bool cancel() { return core()->cancel(nullptr); }
    bool cancel(const std::string& message) { return core()->cancel(&message); }

    decltype(auto) result() const {
        state_->rethrow_if_failed("result");
        if constexpr (!std::is_void_v<T>) return state_->value();
    }
    std::exception_ptr exception() const {
        std::uint32_t fl = state_->flags();
        if (!(fl & detail::f_done_mask)) throw invalid_state_error("exception is not set");
        if (fl & detail::f_cancelled) throw state_->make_cancelled_error();
        state_->mark_retrieved();
        return state_->exception_unchecked();
    }

    template <class F>
    void add_done_callback(F&& f) {
        detail::add_done_callback<future>(state_, std::forward<F>(f));
    }
    template <class F>
    std::size_t remove_done_callback(const F& f) {
        return detail::remove_done_callback(state_, f);
    }

    struct awaiter : detail::completion_awaiter {
        using completion_awaiter::completion_awaiter;
        decltype(auto) await_resume() {
            finish_wait();
            if constexpr (!std::is_void_v<T>)
                return static_cast<detail::future_state<T>*>(target)->value();
        }
    };
    struct move_awaiter : detail::completion_awaiter {
        using completion_awaiter::completion_awaiter;
        T await_resume() {
            finish_wait();
            if constexpr (!std::is_void_v<T>)
                return std::move(static_cast<detail::future_state<T>*>(target)->value());
        }
    };
    // `co_await f` yields a reference to the result; `co_await std::move(f)`
    // (or awaiting a temporary, such as gather's) moves it out.
    awaiter operator co_await() const& noexcept { return awaiter(state_); }
    move_awaiter operator co_await() && noexcept { return move_awaiter(state_); }

    detail::future_core* core() const noexcept { return state_; }

    // Adopts a reference to `s` (for futures with their own state type).
    explicit future(detail::future_state<T>* s) noexcept : state_(s) {}

private:
    void claim(const char* what) {
        if (!state_->try_claim()) {
            throw invalid_state_error(std::string("weft::future::") + what +
                                      ": the future is already done");
        }
    }
    detail::future_state<T>* state_;
};

// asyncio's loop.create_future().
template <class T = void>
future<T> create_future() {
    return future<T>(get_running_loop());
}

}  // namespace weft
