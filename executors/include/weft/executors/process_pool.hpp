// weft::process_pool_executor: Python's concurrent.futures.ProcessPoolExecutor,
// for CPU-bound work in processes of its own, and sturdier.
//
//     long count_primes(long lo, long hi);                 // a plain function
//
//     int main() {
//         weft::process_pool_executor pool(4);             // forks the fork server
//         weft::run(main_task(pool));
//     }
//     ...
//     long n = co_await weft::run_in_executor(pool, count_primes, 0L, 1'000'000L);
//
// Create the pool early, ideally before the program starts threads: its fork
// server is forked right there, and every worker is a fork of that clean,
// single-threaded copy of the program (so a worker never inherits a lock
// another thread held). Functions are named by address, as a lambda without
// captures, or registered by name (remote_function.hpp); arguments and
// results travel as bytes (codec.hpp). Results are read on the event loop's
// poller: submit from a task (or any thread of a running loop), await the
// future there or wait for it on a plain thread.
//
// Beyond Python's pool:
//   - a worker that crashes (segfault, abort, _exit, killed from outside)
//     fails only the call it was running, with worker_died_error naming the
//     signal or exit status; a fresh worker takes its place and every other
//     call still runs;
//   - cancelling a task awaiting run_in_executor (or that future) kills the
//     worker running its call; the pool replaces it;
//   - call_options{.timeout = s} does the same to a call that runs longer,
//     which then fails with timeout_error;
//   - shutdown(), the destructor, and the end of the program leave no zombie
//     and no orphan process: the fork server reaps the workers, and takes
//     them down if this process dies.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/types.h>

#include <weft/executors/call_options.hpp>
#include <weft/executors/codec.hpp>
#include <weft/executors/detail/job_state.hpp>
#include <weft/executors/errors.hpp>
#include <weft/executors/executor_future.hpp>
#include <weft/executors/map_result.hpp>
#include <weft/executors/remote_function.hpp>

namespace weft {

namespace detail {

struct process_pool_state;
struct worker_slot;

// What the pool needs of a call, whatever its result type.
struct process_call {
    job_base* job = nullptr;
    std::string request;   // the encoded arguments
    std::uintptr_t a = 0;  // invoker address, or registry index when named
    std::uintptr_t b = 0;  // function address
    bool named = false;
    std::string label;   // for messages: the function's name (empty: see label_of)
    double timeout = 0;  // seconds; <= 0: none
    // Decodes the result bytes and completes the future.
    void (*deliver)(process_call* self, byte_reader& result) = nullptr;
    // Guarded by the pool's mutex: the worker running it.
    worker_slot* slot = nullptr;
    // Keeps the pool's state alive for interrupt() (set by the pool).
    std::shared_ptr<process_pool_state> pool;
};

// Kills the worker running `call` (asyncio-policy cancel).
void interrupt_process_call(process_call* call) noexcept;

template <class T>
struct process_job final : job_state<T>, process_call {
    process_job(event_loop* loop, cancel_policy policy)
        : job_state<T>(loop, &job_state<T>::template ops_for<process_job>, policy,
                       2)  // the future's reference and the pool's
    {
        job = this;
        deliver = &deliver_result;
        this->interrupt = &interrupt_job;
        this->delivered_by_loop = true;
    }
    static void deliver_result(process_call* self, byte_reader& r) {
        auto* j = static_cast<process_job*>(self);
        if constexpr (std::is_void_v<T>) {
            j->finish_value();
        } else {
            T value = r.get<T>();
            j->finish_value(std::move(value));
        }
    }
    static void interrupt_job(job_base* self) noexcept {
        interrupt_process_call(static_cast<process_job*>(self));
    }
};

// What a submitted callable is: its result type, and how to fill the call.
template <class F>
struct process_callable {
    static constexpr bool supported = false;
};

template <class R, class... P>
struct pointer_callable {
    static constexpr bool supported = true;
    using result = std::decay_t<R>;
    template <class... A>
    static void fill(process_call& c, R (*fn)(P...), A&&... args);
};
template <class R, class... P>
struct process_callable<R (*)(P...)> : pointer_callable<R, P...> {};
template <class R, class... P>
struct process_callable<R (*)(P...) noexcept> : pointer_callable<R, P...> {};

template <class R, class... P>
struct process_callable<remote_function<R(P...)>> {
    static constexpr bool supported = true;
    using result = std::decay_t<R>;
};

template <class R>
struct process_callable<by_name<R>> {
    static constexpr bool supported = true;
    using result = R;
};

template <class P, class A>
void put_as(byte_writer& w, A&& arg) {
    using V = std::decay_t<P>;
    if constexpr (std::is_same_v<std::decay_t<A>, V>) {
        w.put<V>(arg);
    } else {
        static_assert(std::is_constructible_v<V, A&&>,
                      "weft::process_pool_executor: an argument does not convert to the "
                      "function's parameter type");
        w.put<V>(V(std::forward<A>(arg)));
    }
}

template <class R, class... P>
template <class... A>
void pointer_callable<R, P...>::fill(process_call& c, R (*fn)(P...), A&&... args) {
    static_assert(sizeof...(A) == sizeof...(P),
                  "weft::process_pool_executor: wrong number of arguments for the function");
    check_signature<R, P...>();
    byte_writer w;
    (put_as<P>(w, std::forward<A>(args)), ...);
    c.request = std::move(w.bytes());
    c.a = reinterpret_cast<std::uintptr_t>(&invoke_pointer<R, P...>);
    c.b = reinterpret_cast<std::uintptr_t>(fn);
}

// The pool's non-template side (process_pool.cpp).
// How messages name the function of `c`: its registered name, its symbol, or
// its address.
std::string label_of(const process_call& c);
// Resolves a named call: raises std::invalid_argument for an unknown name or
// a signature other than `sig`.
std::uint32_t resolve_name(const std::string& name, const std::type_info& sig);

}  // namespace detail

class process_pool_executor {
public:
    // Python's default: one worker per core.
    static int default_max_workers() noexcept;

    // Starts the fork server (workers are forked when calls need them).
    // Raises std::invalid_argument unless max_workers >= 1, and
    // std::system_error if the fork server cannot be started.
    explicit process_pool_executor(int max_workers = default_max_workers());
    // shutdown(wait=true), unless shutdown(wait=false) was called: then the
    // calls still running finish in the background and the pool goes after.
    ~process_pool_executor();
    process_pool_executor(const process_pool_executor&) = delete;
    process_pool_executor& operator=(const process_pool_executor&) = delete;

    // Schedules fn(args...) in a worker and returns its future. Must be called
    // where an event loop runs (its poller reads the result): raises
    // no_running_loop_error elsewhere, executor_shutdown_error after
    // shutdown(), std::invalid_argument for an unknown or mistyped name.
    template <class F, class... A>
    requires(!std::is_same_v<std::decay_t<F>, call_options>) auto submit(F&& fn, A&&... args) {
        return submit_with(detail::cancel_policy::concurrent, call_options{}, std::forward<F>(fn),
                           std::forward<A>(args)...);
    }
    template <class F, class... A>
    auto submit(call_options options, F&& fn, A&&... args) {
        return submit_with(detail::cancel_policy::concurrent, options, std::forward<F>(fn),
                           std::forward<A>(args)...);
    }

    // Executor.map: fn(a, b, ...) for each tuple of items of the ranges, in
    // order, stopping at the shortest. Submits every call at once.
    template <class F, class R1, class... Rs>
    auto map(F fn, R1&& first, Rs&&... rest) {
        using T = typename detail::process_callable<std::decay_t<F>>::result;
        std::vector<executor_future<T>> fs;
        auto it1 = std::begin(first);
        auto end1 = std::end(first);
        auto its = std::make_tuple(std::begin(rest)...);
        auto ends = std::make_tuple(std::end(rest)...);
        auto any_at_end = [&]<std::size_t... I>(std::index_sequence<I...>) {
            return it1 == end1 || ((std::get<I>(its) == std::get<I>(ends)) || ...);
        };
        constexpr auto idx = std::index_sequence_for<Rs...>{};
        while (!any_at_end(idx)) {
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                fs.push_back(submit(fn, *it1, *std::get<I>(its)...));
                ++it1;
                (++std::get<I>(its), ...);
            }
            (idx);
        }
        return map_result<T>(std::move(fs));
    }

    // Python's shutdown(wait, cancel_futures): no more submissions; with
    // cancel_futures the calls not started yet are cancelled; with wait,
    // returns once every call has finished (reading their results itself if
    // it has to: called from a task it blocks that loop meanwhile, as in
    // Python) and the workers and the fork server are gone. Without wait,
    // that happens when the last call finishes.
    void shutdown(bool wait = true, bool cancel_futures = false);

    int max_workers() const noexcept;
    bool is_shutdown() const noexcept;
    pid_t fork_server_pid() const noexcept;
    // The live worker processes, for monitoring (and tests).
    std::vector<pid_t> worker_pids() const;

    // For run_in_executor: as submit, with the future's cancel policy given.
    template <class F, class... A>
    requires(!std::is_same_v<std::decay_t<F>, call_options>) auto submit_with(
        detail::cancel_policy policy, F&& fn, A&&... args) {
        return submit_with(policy, call_options{}, std::forward<F>(fn), std::forward<A>(args)...);
    }
    template <class F, class... A>
    auto submit_with(detail::cancel_policy policy, call_options options, F&& fn, A&&... args) {
        using D = std::decay_t<F>;
        if constexpr (detail::process_callable<D>::supported) {
            using T = typename detail::process_callable<D>::result;
            auto* job = new detail::process_job<T>(event_loop::current(), policy);
            executor_future<T> fut(job);  // adopts the future's reference
            try {
                fill(*job, fn, std::forward<A>(args)...);
            } catch (...) {
                job->core()->release();  // the pool's reference, never taken
                throw;
            }
            job->timeout = options.timeout.value_or(0.0);
            enqueue(job);  // takes the pool's reference; raises after shutdown
            return fut;
        } else if constexpr (std::is_empty_v<D> && std::is_default_constructible_v<D> &&
                             std::is_invocable_v<D&, std::decay_t<A>...>) {
            // A captureless lambda: the worker makes its own (empty) copy.
            using R = std::invoke_result_t<D&, std::decay_t<A>...>;
            detail::check_signature<R, std::decay_t<A>...>();
            using T = std::decay_t<R>;
            auto* job = new detail::process_job<T>(event_loop::current(), policy);
            executor_future<T> fut(job);
            try {
                byte_writer w;
                (w.put<std::decay_t<A>>(args), ...);
                job->request = std::move(w.bytes());
                job->a = reinterpret_cast<std::uintptr_t>(
                    &detail::invoke_stateless<D, std::decay_t<A>...>);
                job->label = "a lambda (" + detail::type_name(typeid(D)) + ")";
            } catch (...) {
                job->core()->release();
                throw;
            }
            job->timeout = options.timeout.value_or(0.0);
            enqueue(job);
            return fut;
        } else {
            static_assert(detail::process_callable<D>::supported,
                          "weft::process_pool_executor runs plain functions, captureless "
                          "lambdas, remote_function and weft::by_name<R>(\"name\"): a worker "
                          "process cannot receive a callable's captured state");
        }
    }

private:
    template <class R, class... P, class... A>
    static void fill(detail::process_call& c, R (*fn)(P...), A&&... args) {
        detail::pointer_callable<R, P...>::fill(c, fn, std::forward<A>(args)...);
    }
    template <class R, class... P, class... A>
    static void fill(detail::process_call& c, R (*fn)(P...) noexcept, A&&... args) {
        fill(c, static_cast<R (*)(P...)>(fn), std::forward<A>(args)...);
    }
    template <class R, class... P, class... A>
    static void fill(detail::process_call& c, const remote_function<R(P...)>& f, A&&... args) {
        detail::pointer_callable<R, P...>::fill(c, f.pointer(), std::forward<A>(args)...);
        c.named = true;
        c.a = f.index();
        c.b = 0;
        c.label = "'" + f.name() + "'";
    }
    template <class R, class... A>
    static void fill(detail::process_call& c, const by_name<R>& f, A&&... args) {
        detail::check_signature<R, std::decay_t<A>...>();
        c.a = detail::resolve_name(f.name, typeid(std::decay_t<R>(std::decay_t<A>...)));
        c.named = true;
        byte_writer w;
        (w.put<std::decay_t<A>>(args), ...);
        c.request = std::move(w.bytes());
        c.label = "'" + f.name + "'";
    }

    // Takes the pool's reference to `call` (releasing it if it raises).
    void enqueue(detail::process_call* call);

    std::shared_ptr<detail::process_pool_state> state_;
};

}  // namespace weft
