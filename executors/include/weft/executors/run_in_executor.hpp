// The bridge from tasks to executors: asyncio's loop.run_in_executor and
// asyncio.to_thread.
//
//     int n = co_await weft::run_in_executor(pool, count_lines, path);     // a pool of yours
//     int m = co_await weft::run_in_executor(nullptr, count_lines, path);  // the default pool
//     int k = co_await weft::to_thread(count_lines, path);                 // the same
//
// Each call submits the job at once and returns its future: awaiting it later
// (or gathering several) lets the jobs run side by side, as in asyncio. The
// result, or the exception with its type and message, comes back to the
// awaiting task on its loop; no thread blocks for it. Cancelling the awaiting
// task (or the future) cancels the job if it has not started, kills its
// worker process in a process pool, and otherwise lets it finish and drops
// its result (asyncio's behaviour).
//
// The default executor is a thread_pool_executor of default_max_workers()
// threads, made on first use for the running loop (in Go mode: for the
// runtime, shared by its workers) and shut down, waiting for its jobs, when
// that loop or runtime shuts down (the end of weft::run), as asyncio.run does.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include <weft/event_loop.hpp>
#include <weft/executors/call_options.hpp>
#include <weft/executors/executor_future.hpp>
#include <weft/executors/thread_pool.hpp>

namespace weft {

// The running loop's default executor (made on first use); raises
// no_running_loop_error outside a loop.
thread_pool_executor& default_executor();

// Makes `executor` the running loop's default executor (asyncio's
// loop.set_default_executor); it is shut down with the loop as the default
// would be. Raises no_running_loop_error outside a loop.
void set_default_executor(std::shared_ptr<thread_pool_executor> executor);

// An executor run_in_executor accepts: thread_pool_executor,
// process_pool_executor, or one of your own with the same submit_with.
template <class E>
concept executor = requires(E& e) {
    e.shutdown();
};

// loop.run_in_executor(executor, fn, *args). Raises no_running_loop_error
// outside a loop, executor_shutdown_error after the executor's shutdown().
template <executor E, class F, class... A>
requires(!std::is_same_v<std::decay_t<F>, call_options>) auto run_in_executor(E& ex, F&& fn,
                                                                              A&&... args) {
    get_running_loop();  // asyncio raises the same outside a loop
    return ex.submit_with(detail::cancel_policy::asyncio, std::forward<F>(fn),
                          std::forward<A>(args)...);
}

// With per-call options (process pools: call_options{.timeout = s}).
template <executor E, class F, class... A>
auto run_in_executor(E& ex, call_options options, F&& fn, A&&... args) {
    get_running_loop();
    return ex.submit_with(detail::cancel_policy::asyncio, options, std::forward<F>(fn),
                          std::forward<A>(args)...);
}

// run_in_executor(None, ...): the default executor.
template <class F, class... A>
auto run_in_executor(std::nullptr_t, F&& fn, A&&... args) {
    return default_executor().submit_with(detail::cancel_policy::asyncio, std::forward<F>(fn),
                                          std::forward<A>(args)...);
}

// asyncio.to_thread(fn, *args): fn(args...) in the default executor.
template <class F, class... A>
auto to_thread(F&& fn, A&&... args) {
    return run_in_executor(nullptr, std::forward<F>(fn), std::forward<A>(args)...);
}

}  // namespace weft
