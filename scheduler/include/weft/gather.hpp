// gather(): run awaitables concurrently and collect their results in argument
// order (asyncio.gather).
//
//     auto [a, b] = co_await weft::gather(fetch(1), fetch(2));       // tuple
//     std::vector<int> all = co_await weft::gather(std::move(tasks)); // vector
//     auto outs = co_await weft::gather(weft::return_exceptions, f(), g());
//
// Lazy tasks become tasks at once, in argument order, so they start on the
// loop's next iteration whether or not the gather is awaited yet. Without
// return_exceptions the first failure is raised to the awaiter right away
// and the other children keep running; with it, each result is an
// outcome<T> holding a value or an exception. Cancelling the gather (or the
// task awaiting it) cancels every child. void results appear as
// std::monostate.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <weft/detail/awaitable_traits.hpp>
#include <weft/future.hpp>

namespace weft {

struct return_exceptions_t {
    explicit return_exceptions_t() = default;
};
inline constexpr return_exceptions_t return_exceptions{};

// A result or the exception raised in its place.
template <class T>
class outcome {
public:
    using stored = detail::stored_t<T>;
    outcome(stored v) : v_(std::move(v)) {}
    outcome(std::exception_ptr e) : v_(std::move(e)) {}
    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }
    // The value; rethrows the exception if there is one.
    stored& value() {
        if (!has_value()) std::rethrow_exception(std::get<1>(v_));
        return std::get<0>(v_);
    }
    std::exception_ptr exception() const noexcept {
        return has_value() ? nullptr : std::get<1>(v_);
    }

private:
    std::variant<stored, std::exception_ptr> v_;
};

namespace detail {

template <class H, bool ReturnExceptions>
using gathered_t = std::conditional_t<ReturnExceptions, outcome<typename H::value_type>,
                                      stored_t<typename H::value_type>>;

template <bool ReturnExceptions, class H>
gathered_t<H, ReturnExceptions> gathered_result(H& h) {
    if constexpr (ReturnExceptions) {
        using O = outcome<typename H::value_type>;
        if (h.cancelled()) {
            return O(std::make_exception_ptr(core_of(h)->make_cancelled_error()));
        }
        if (std::exception_ptr e = h.exception()) return O(std::move(e));
        return O(take_result(h));
    } else {
        return take_result(h);
    }
}

// The gathering future: asyncio's _GatheringFuture plus gather()'s closure.
// `Handles` is a std::tuple of handles or a std::vector of one handle type.
template <class Result, class Handles, bool ReturnExceptions>
class gather_state final : public future_state<Result> {
public:
    gather_state(event_loop* loop, Handles handles, std::vector<future_core*> children)
        : future_state<Result>(loop, &ops),
          handles_(std::move(handles)),
          children_(std::move(children)) {
        // Each distinct child counts once, as with asyncio's arg_to_fut.
        std::vector<future_core*> seen;
        for (future_core* c : children_) {
            bool dup = false;
            for (future_core* s : seen)
                dup = dup || s == c;
            if (!dup) seen.push_back(c);
        }
        nfuts_ = seen.size();
        unique_ = std::move(seen);
    }

    // Hangs the done-callback on every distinct child (after construction, so
    // that a callback scheduled at once finds the state complete).
    void arm() {
        for (future_core* c : unique_) {
            this->add_ref();  // owned by the callback
            callback cb{this};
            add_done_callback<core_ref>(c, std::move(cb));
        }
    }

    static const future_ops ops;

private:
    struct callback {
        gather_state* st;
        callback(gather_state* s) noexcept : st(s) {}
        callback(callback&& o) noexcept : st(std::exchange(o.st, nullptr)) {}
        callback(const callback&) = delete;
        ~callback() {
            if (st) st->release();
        }
        void operator()(core_ref& child) { st->on_child_done(child.get()); }
    };

    void set_exception(std::exception_ptr e) {
        if (!this->try_claim()) return;
        this->set_exception_claimed(std::move(e));
        this->publish(f_finished | f_has_exception);
    }

    // asyncio gather's _done_callback, run (via call_soon) when a child ends.
    // In Go mode children end on different workers at once: a lock keeps the
    // count and the outcome consistent.
    void on_child_done(future_core* child) {
        std::lock_guard lock(mutex_);
        ++nfinished_;
        if (this->done()) {
            if (!child->cancelled()) child->mark_retrieved();
            return;
        }
        if constexpr (!ReturnExceptions) {
            if (child->cancelled()) {
                set_exception(std::make_exception_ptr(child->make_cancelled_error()));
                return;
            }
            if (child->flags() & f_has_exception) {
                child->mark_retrieved();
                set_exception(child->exception_unchecked());
                return;
            }
        }
        if (nfinished_ != nfuts_) return;
        // A cancel of the gather propagates even with return_exceptions.
        if (cancel_requested_.load(std::memory_order_relaxed)) {
            set_exception(std::make_exception_ptr(child->make_cancelled_error()));
            return;
        }
        if (!this->try_claim()) return;
        try {
            this->slot().emplace(collect());
        } catch (...) {
            this->set_exception_claimed(std::current_exception());
            this->publish(f_finished | f_has_exception);
            return;
        }
        this->publish(f_finished | f_has_value);
    }

    Result collect() {
        if constexpr (requires { std::tuple_size<Handles>::value; }) {
            return std::apply(
                [](auto&... h) { return Result(gathered_result<ReturnExceptions>(h)...); },
                handles_);
        } else {
            Result out;
            out.reserve(handles_.size());
            for (auto& h : handles_)
                out.push_back(gathered_result<ReturnExceptions>(h));
            return out;
        }
    }

    // _GatheringFuture.cancel: cancel the children; the gather completes
    // (with cancelled_error) when they have.
    static bool cancel_gather(future_core* f, const std::string* message) {
        auto* st = static_cast<gather_state*>(f);
        if (st->done()) return false;
        bool any = false;
        for (future_core* c : st->children_)
            any = c->cancel(message) || any;
        // Relaxed: read on the loop by on_child_done, ordered by the child's
        // completion that follows this cancel.
        if (any) st->cancel_requested_.store(true, std::memory_order_relaxed);
        return any;
    }
    static void destroy(future_core* f) noexcept { delete static_cast<gather_state*>(f); }

    Handles handles_;
    std::vector<future_core*> children_;  // in argument order, with repeats
    std::vector<future_core*> unique_;
    std::mutex mutex_;
    std::size_t nfuts_ = 0;
    std::size_t nfinished_ = 0;
    std::atomic<bool> cancel_requested_{false};
};

template <class Result, class Handles, bool R>
inline const future_ops gather_state<Result, Handles, R>::ops{&gather_state::destroy,
                                                              &gather_state::cancel_gather};

template <bool ReturnExceptions, class... A>
auto gather_tuple(A&&... aws) {
    // Braces: the tasks are created (and so start) in argument order.
    using Handles = std::tuple<typename traits_of<A>::handle_type...>;
    Handles handles{ensure_future(std::forward<A>(aws))...};
    using Result = std::tuple<gathered_t<typename traits_of<A>::handle_type, ReturnExceptions>...>;
    std::vector<future_core*> children;
    std::apply([&](auto&... h) { (children.push_back(core_of(h)), ...); }, handles);
    event_loop& loop = get_running_loop();
    if constexpr (sizeof...(A) == 0) {
        future<Result> done(loop);
        done.set_result();
        return done;
    } else {
        auto* st = new gather_state<Result, Handles, ReturnExceptions>(&loop, std::move(handles),
                                                                       std::move(children));
        st->arm();
        return future<Result>(st);
    }
}

template <bool ReturnExceptions, class A>
auto gather_vector(std::vector<A> aws) {
    using H = typename traits_of<A>::handle_type;
    using Result = std::vector<gathered_t<H, ReturnExceptions>>;
    std::vector<H> handles;
    handles.reserve(aws.size());
    for (A& a : aws)
        handles.push_back(ensure_future(std::move(a)));
    event_loop& loop = get_running_loop();
    if (handles.empty()) {
        future<Result> done(loop);
        done.set_result();
        return done;
    }
    std::vector<future_core*> children;
    children.reserve(handles.size());
    for (H& h : handles)
        children.push_back(core_of(h));
    auto* st = new gather_state<Result, std::vector<H>, ReturnExceptions>(&loop, std::move(handles),
                                                                          std::move(children));
    st->arm();
    return future<Result>(st);
}

}  // namespace detail

template <class... A>
[[nodiscard]] auto gather(A&&... aws) {
    return detail::gather_tuple<false>(std::forward<A>(aws)...);
}
template <class... A>
[[nodiscard]] auto gather(return_exceptions_t, A&&... aws) {
    return detail::gather_tuple<true>(std::forward<A>(aws)...);
}
template <class A>
[[nodiscard]] auto gather(std::vector<A> aws) {
    return detail::gather_vector<false>(std::move(aws));
}
template <class A>
[[nodiscard]] auto gather(return_exceptions_t, std::vector<A> aws) {
    return detail::gather_vector<true>(std::move(aws));
}

}  // namespace weft
