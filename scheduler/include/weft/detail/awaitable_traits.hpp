// What the combinators (gather, wait, wait_for, shield, ...) accept, and how
// they turn it into a future-like handle: asyncio's ensure_future. A lazy
// task<T> becomes a task scheduled on the running loop; task handles and
// futures are used as they are.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>
#include <variant>

#include <weft/future.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

namespace weft::detail {

template <class A>
struct awaitable_traits;  // not a task<T>, task_handle<T> or future<T>

template <class T>
struct awaitable_traits<task<T>> {
    using value_type = T;
    using handle_type = task_handle<T>;
    static handle_type ensure(task<T>&& t) { return create_task(std::move(t)); }
};
template <class T>
struct awaitable_traits<task_handle<T>> {
    using value_type = T;
    using handle_type = task_handle<T>;
    static handle_type ensure(const task_handle<T>& h) { return h; }
};
template <class T>
struct awaitable_traits<future<T>> {
    using value_type = T;
    using handle_type = future<T>;
    static handle_type ensure(const future<T>& f) { return f; }
};

template <class A>
using traits_of = awaitable_traits<std::remove_cvref_t<A>>;

template <class A>
auto ensure_future(A&& a) {
    return traits_of<A>::ensure(std::forward<A>(a));
}

inline future_core* core_of(const task_ref& t) noexcept {
    return t.record();
}
template <class T>
future_core* core_of(const future<T>& f) noexcept {
    return f.core();
}

// void results are represented as std::monostate where a value is needed
// (gather's tuple and vector).
template <class T>
using stored_t =
    std::conditional_t<std::is_void_v<T>, std::monostate,
                       std::conditional_t<std::is_reference_v<T>,
                                          std::reference_wrapper<std::remove_reference_t<T>>, T>>;

template <class H>
stored_t<typename H::value_type> take_result(H& h) {
    if constexpr (std::is_void_v<typename H::value_type>) {
        h.result();
        return {};
    } else {
        return h.result();
    }
}

}  // namespace weft::detail
