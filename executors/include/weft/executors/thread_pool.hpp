// weft::thread_pool_executor: Python's concurrent.futures.ThreadPoolExecutor,
// on a oneTBB task_arena.
//
//     weft::thread_pool_executor pool(4);
//     auto f = pool.submit(checksum, std::string("data.bin"));   // any thread
//     std::printf("%u\n", f.get());                                // blocks
//     auto sum = co_await weft::run_in_executor(pool, checksum, path);  // a task
//     pool.shutdown();                                             // or ~pool
//
// Jobs run on TBB worker threads in the pool's arena, at most `max_workers`
// at a time, in submission order. Arguments are copied (decayed) into the job,
// as std::thread does: pass std::ref for a reference. The pool asks TBB for
// enough worker threads process-wide that every pool gets its `max_workers`
// (a tbb::global_control raised above TBB's default of one per core, which
// would serialise blocking jobs); a smaller limit the program sets itself
// wins, as TBB's rules say.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <weft/executors/detail/job_state.hpp>
#include <weft/executors/errors.hpp>
#include <weft/executors/executor_future.hpp>
#include <weft/executors/map_result.hpp>

namespace weft {

namespace detail {

// A job for a thread pool: the future and the call, in one allocation.
template <class T, class Fn>
struct thread_job final : job_state<T> {
    thread_job(event_loop* loop, cancel_policy policy, Fn&& f)
        : job_state<T>(loop, &job_state<T>::template ops_for<thread_job>, policy,
                       2),  // the future's reference and the pool's
          fn(std::move(f)) {
        this->execute = &run;
    }

    static void run(job_base* j) noexcept {
        auto* self = static_cast<thread_job*>(j);
        if (self->start()) {
            try {
                if constexpr (std::is_void_v<T>) {
                    std::invoke(std::move(self->fn));
                    self->finish_value();
                } else {
                    self->finish_value(std::invoke(std::move(self->fn)));
                }
            } catch (...) {
                self->finish_exception(std::current_exception());
            }
        }
        self->core()->release();  // the pool's reference
    }

    Fn fn;
};

// The decayed result type of calling F with A...
template <class F, class... A>
using job_result_t = std::decay_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>>;

}  // namespace detail

class thread_pool_executor {
public:
    // Python's default: min(32, cores + 4).
    static int default_max_workers() noexcept;

    // Raises std::invalid_argument unless max_workers >= 1.
    explicit thread_pool_executor(int max_workers = default_max_workers());
    // Waits for the jobs still queued or running (as leaving Python's
    // `with` block does), even after shutdown(wait=false).
    ~thread_pool_executor();
    thread_pool_executor(const thread_pool_executor&) = delete;
    thread_pool_executor& operator=(const thread_pool_executor&) = delete;

    // Schedules fn(args...) and returns its future. Raises
    // executor_shutdown_error after shutdown().
    template <class F, class... A>
    requires std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>
        executor_future<detail::job_result_t<F, A...>> submit(F&& fn, A&&... args) {
        return submit_with(detail::cancel_policy::concurrent, std::forward<F>(fn),
                           std::forward<A>(args)...);
    }

    // Executor.map: fn(a, b, ...) for each tuple of items of the ranges, in
    // order, stopping at the shortest. Submits every call at once.
    template <class F, class R1, class... Rs>
    auto map(F fn, R1&& first, Rs&&... rest) {
        using T =
            detail::job_result_t<F, decltype(*std::begin(first)), decltype(*std::begin(rest))...>;
        return detail::map_calls<T>([&](auto&&... items) { return submit(fn, items...); },
                                    std::forward<R1>(first), std::forward<Rs>(rest)...);
    }

    // Python's shutdown(wait, cancel_futures): no more submissions; with
    // cancel_futures, the jobs no worker has taken are cancelled; with wait,
    // returns once every job has finished. Calling it from one of the pool's
    // own jobs with wait=true raises std::logic_error (it would wait for
    // itself).
    void shutdown(bool wait = true, bool cancel_futures = false);

    int max_workers() const noexcept;
    bool is_shutdown() const noexcept;

    // For run_in_executor: as submit, with the future's cancel policy given.
    template <class F, class... A>
    executor_future<detail::job_result_t<F, A...>> submit_with(detail::cancel_policy policy, F&& fn,
                                                               A&&... args) {
        using T = detail::job_result_t<F, A...>;
        auto call = [f = std::forward<F>(fn), ... a = std::forward<A>(args)]() mutable -> T {
            return std::invoke(std::move(f), std::move(a)...);
        };
        auto* job = new detail::thread_job<T, decltype(call)>(event_loop::current(), policy,
                                                              std::move(call));
        executor_future<T> fut(job);  // adopts the future's reference
        enqueue(job);                 // the pool's reference; raises after shutdown
        return fut;
    }

private:
    // Takes the executor's reference to `job` (releasing it if it raises).
    void enqueue(detail::job_base* job);

    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace weft
