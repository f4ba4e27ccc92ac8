// weft::spawn(callable, args...): a task that owns the callable it runs.
//
//     weft::spawn([name = std::string("db")]() -> weft::task<void> {
//         co_await weft::sleep(10ms);
//         log(name);                 // safe: the task keeps the lambda alive
//     });
//
// create_task(lambda()) keeps only the coroutine the call returned; a
// coroutine lambda's captures live in the lambda object, not in that
// coroutine, and the lambda object is a temporary destroyed at the end of
// the statement: the task reads freed memory after its first suspension
// (docs/footguns.md). spawn moves the callable and the arguments into a
// wrapper coroutine's frame, calls the callable there and awaits what it
// returns, so they live exactly as long as the task.
//
// spawn(task) (a task already made) is create_task; spawn(callable, ...)
// is the owning form. Like std::thread, the arguments are copied or moved
// into the task (std::ref passes a reference, which the caller keeps valid).
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include <weft/task.hpp>
#include <weft/task_handle.hpp>

namespace weft {

namespace detail {
template <class X>
inline constexpr bool is_weft_task = false;
template <class T>
inline constexpr bool is_weft_task<task<T>> = true;

// The wrapper: `f` and `args` are parameters, so they live in its frame.
template <class T, class F, class... A>
task<T> owning_call(F f, A... args) {
    co_return co_await std::invoke(f, args...);
}
}  // namespace detail

template <class F, class... A>
requires(!detail::is_weft_task<std::decay_t<F>> &&
         std::is_invocable_v<std::decay_t<F>&, std::decay_t<A>&...>) auto spawn(F&& f,
                                                                                A&&... args) {
    using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>;
    static_assert(detail::is_weft_task<R>,
                  "weft::spawn(callable, args...): the callable must return a weft::task<T>");
    return create_task(detail::owning_call<typename R::value_type>(
        std::decay_t<F>(std::forward<F>(f)), std::decay_t<A>(std::forward<A>(args))...));
}

}  // namespace weft
