// Threads for the blocking calls weft::io must make (getaddrinfo,
// getnameinfo, and weft::file's syscalls on the epoll backend). weft::io
// sits below weft::executors (it links the scheduler alone), so it cannot
// use the loop's default executor; a pool of its own also keeps a name
// lookup from waiting behind a user's long jobs in that executor.
#pragma once

#include <exception>
#include <functional>
#include <utility>

#include <weft/future.hpp>

namespace weft::detail {

// Queues `job` for a pool thread (started on demand, at most a few, each
// leaving after a while idle).
void submit_blocking(std::function<void()> job);

// Starts `fn` on a pool thread; the future completes with its result (or
// exception). Await it from a task: cancelling the task cancels the future
// and abandons the call, which runs to its end on its thread and whose
// result is dropped. (A plain function, not a coroutine: GCC 12 mishandles
// lambda temporaries moved into a coroutine's frame.)
template <class T, class F>
future<T> start_blocking(F fn) {
    future<T> result;
    submit_blocking([result, fn = std::move(fn)]() mutable {
        try {
            if constexpr (std::is_void_v<T>) {
                fn();
                result.try_set_result();
            } else {
                result.try_set_result(fn());
            }
        } catch (...) {
            result.try_set_exception(std::current_exception());
        }
    });
    return result;
}

}  // namespace weft::detail
