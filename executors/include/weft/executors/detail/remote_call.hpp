// A call to be run in another process: what process_pool_executor and
// mpi_executor share. The callable is turned into something another copy of
// this program can find (a function's address or registered name, and the
// invoker that decodes its arguments), its arguments into bytes (codec.hpp),
// and the result comes back as bytes that deliver() decodes into the future.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include <weft/event_loop.hpp>
#include <weft/executors/call_options.hpp>
#include <weft/executors/codec.hpp>
#include <weft/executors/detail/job_state.hpp>
#include <weft/executors/executor_future.hpp>
#include <weft/executors/map_result.hpp>
#include <weft/executors/remote_function.hpp>

namespace weft::detail {

struct process_pool_state;
struct worker_slot;

// What an executor needs of a call, whatever its result type.
struct remote_call {
    job_base* job = nullptr;
    std::string request;   // the encoded arguments
    std::uintptr_t a = 0;  // invoker address, or registry index when named
    std::uintptr_t b = 0;  // function address
    bool named = false;
    std::string label;   // for messages: the function's name (empty: see label_of)
    double timeout = 0;  // seconds; <= 0: none
    // Decodes the result bytes and completes the future.
    void (*deliver)(remote_call* self, byte_reader& result) = nullptr;
    // Set by the executor: stops the call while it runs (asyncio-policy
    // cancel). A process pool kills its worker; MPI asks the rank to drop it.
    void (*stop)(remote_call* self) noexcept = nullptr;
    // Process pools, guarded by the pool's mutex: the worker running it.
    worker_slot* slot = nullptr;
    // Process pools: keeps the pool's state alive for stop().
    std::shared_ptr<process_pool_state> pool;
    // MPI: the call's number on the wire.
    std::uint64_t id = 0;
};

template <class T>
struct remote_job final : job_state<T>, remote_call {
    remote_job(event_loop* loop, cancel_policy policy)
        : job_state<T>(loop, &job_state<T>::template ops_for<remote_job>, policy,
                       2)  // the future's reference and the executor's
    {
        job = this;
        deliver = &deliver_result;
        this->interrupt = &interrupt_job;
    }
    static void deliver_result(remote_call* self, byte_reader& r) {
        auto* j = static_cast<remote_job*>(self);
        if constexpr (std::is_void_v<T>) {
            j->finish_value();
        } else {
            T value = r.get<T>();
            j->finish_value(std::move(value));
        }
    }
    static void interrupt_job(job_base* self) noexcept {
        auto* c = static_cast<remote_job*>(self);
        if (c->stop != nullptr) c->stop(c);
    }
};

// What a submitted callable is: its result type, and how to fill the call.
template <class F>
struct remote_callable {
    static constexpr bool supported = false;
};

template <class R, class... P>
struct pointer_callable {
    static constexpr bool supported = true;
    using result = std::decay_t<R>;
    template <class... A>
    static void fill(remote_call& c, R (*fn)(P...), A&&... args);
};
template <class R, class... P>
struct remote_callable<R (*)(P...)> : pointer_callable<R, P...> {};
template <class R, class... P>
struct remote_callable<R (*)(P...) noexcept> : pointer_callable<R, P...> {};

template <class R, class... P>
struct remote_callable<remote_function<R(P...)>> {
    static constexpr bool supported = true;
    using result = std::decay_t<R>;
};

template <class R>
struct remote_callable<by_name<R>> {
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
void pointer_callable<R, P...>::fill(remote_call& c, R (*fn)(P...), A&&... args) {
    static_assert(sizeof...(A) == sizeof...(P),
                  "weft::process_pool_executor: wrong number of arguments for the function");
    check_signature<R, P...>();
    byte_writer w;
    (put_as<P>(w, std::forward<A>(args)), ...);
    c.request = std::move(w.bytes());
    c.a = reinterpret_cast<std::uintptr_t>(&invoke_pointer<R, P...>);
    c.b = reinterpret_cast<std::uintptr_t>(fn);
}

// How messages name the function of `c`: its registered name, its symbol, or
// its address (remote.cpp).
std::string label_of(const remote_call& c);
// Resolves a named call: raises std::invalid_argument for an unknown name or
// a signature other than `sig`.
std::uint32_t resolve_name(const std::string& name, const std::type_info& sig);

template <class R, class... P, class... A>
void fill_call(remote_call& c, R (*fn)(P...), A&&... args) {
    pointer_callable<R, P...>::fill(c, fn, std::forward<A>(args)...);
}
template <class R, class... P, class... A>
void fill_call(remote_call& c, R (*fn)(P...) noexcept, A&&... args) {
    fill_call(c, static_cast<R (*)(P...)>(fn), std::forward<A>(args)...);
}
template <class R, class... P, class... A>
void fill_call(remote_call& c, const remote_function<R(P...)>& f, A&&... args) {
    pointer_callable<R, P...>::fill(c, f.pointer(), std::forward<A>(args)...);
    c.named = true;
    c.a = f.index();
    c.b = 0;
    c.label = "'" + f.name() + "'";
}
template <class R, class... A>
void fill_call(remote_call& c, const by_name<R>& f, A&&... args) {
    check_signature<R, std::decay_t<A>...>();
    c.a = resolve_name(f.name, typeid(std::decay_t<R>(std::decay_t<A>...)));
    c.named = true;
    byte_writer w;
    (w.put<std::decay_t<A>>(args), ...);
    c.request = std::move(w.bytes());
    c.label = "'" + f.name + "'";
}

// A call's job made and filled, its future returned; `enqueue(job)` takes the
// executor's reference (and releases it if it raises). What both executors'
// submit_with do.
template <class F, class... A, class Enqueue>
auto make_remote_call(cancel_policy policy, call_options options, Enqueue&& enqueue, F&& fn,
                      A&&... args) {
    using D = std::decay_t<F>;
    if constexpr (remote_callable<D>::supported) {
        using T = typename remote_callable<D>::result;
        auto* job = new remote_job<T>(event_loop::current(), policy);
        executor_future<T> fut(job);  // adopts the future's reference
        try {
            fill_call(*job, fn, std::forward<A>(args)...);
        } catch (...) {
            job->core()->release();  // the executor's reference, never taken
            throw;
        }
        job->timeout = options.timeout.value_or(0.0);
        enqueue(static_cast<remote_call*>(job));
        return fut;
    } else if constexpr (std::is_empty_v<D> && std::is_default_constructible_v<D> &&
                         std::is_invocable_v<D&, std::decay_t<A>...>) {
        // A captureless lambda: the other process makes its own (empty) copy.
        using R = std::invoke_result_t<D&, std::decay_t<A>...>;
        check_signature<R, std::decay_t<A>...>();
        using T = std::decay_t<R>;
        auto* job = new remote_job<T>(event_loop::current(), policy);
        executor_future<T> fut(job);
        try {
            byte_writer w;
            (w.put<std::decay_t<A>>(args), ...);
            job->request = std::move(w.bytes());
            job->a = reinterpret_cast<std::uintptr_t>(&invoke_stateless<D, std::decay_t<A>...>);
            job->label = "a lambda (" + type_name(typeid(D)) + ")";
        } catch (...) {
            job->core()->release();
            throw;
        }
        job->timeout = options.timeout.value_or(0.0);
        enqueue(static_cast<remote_call*>(job));
        return fut;
    } else {
        static_assert(remote_callable<D>::supported,
                      "weft: another process runs plain functions, captureless lambdas, "
                      "remote_function and weft::by_name<R>(\"name\"): it cannot receive a "
                      "callable's captured state");
    }
}

// The submitting half of an executor of remote calls (process pools, MPI):
// submit, map and submit_with, for `Derived`, which supplies
// `void enqueue(remote_call*)` (taking the executor's reference to the call,
// and releasing it if it raises) and befriends this class.
template <class Derived>
class remote_submitter {
public:
    // Schedules fn(args...) in another process and returns its future. Must
    // be called where an event loop runs: raises no_running_loop_error
    // elsewhere, executor_shutdown_error after shutdown(),
    // std::invalid_argument for an unknown or mistyped name.
    template <class F, class... A>
    requires(!std::is_same_v<std::decay_t<F>, call_options>) auto submit(F&& fn, A&&... args) {
        return submit_with(cancel_policy::concurrent, call_options{}, std::forward<F>(fn),
                           std::forward<A>(args)...);
    }
    template <class F, class... A>
    auto submit(call_options options, F&& fn, A&&... args) {
        return submit_with(cancel_policy::concurrent, options, std::forward<F>(fn),
                           std::forward<A>(args)...);
    }

    // Executor.map: fn(a, b, ...) for each tuple of items of the ranges, in
    // order, stopping at the shortest. Submits every call at once.
    template <class F, class R1, class... Rs>
    auto map(F fn, R1&& first, Rs&&... rest) {
        using T = typename remote_callable<std::decay_t<F>>::result;
        return map_calls<T>([&](auto&&... items) { return submit(fn, items...); },
                            std::forward<R1>(first), std::forward<Rs>(rest)...);
    }

    // For run_in_executor: as submit, with the future's cancel policy given.
    template <class F, class... A>
    requires(!std::is_same_v<std::decay_t<F>, call_options>) auto submit_with(cancel_policy policy,
                                                                              F&& fn, A&&... args) {
        return submit_with(policy, call_options{}, std::forward<F>(fn), std::forward<A>(args)...);
    }
    template <class F, class... A>
    auto submit_with(cancel_policy policy, call_options options, F&& fn, A&&... args) {
        return make_remote_call(
            policy, options, [this](remote_call* c) { static_cast<Derived*>(this)->enqueue(c); },
            std::forward<F>(fn), std::forward<A>(args)...);
    }
};

}  // namespace weft::detail
