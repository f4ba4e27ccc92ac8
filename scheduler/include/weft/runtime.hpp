// weft::runtime: weft in the background of a program that has its own main,
// its own threads and its own shutdown (Tokio's Runtime and Handle, asyncio's
// run_coroutine_threadsafe).
//
//     weft::runtime rt({.threads = 4});            // workers start; returns at once
//     weft::runtime_handle h = rt.handle();        // cheap, copyable, any thread
//
//     // on any thread weft does not own (an RPC handler, a pool worker):
//     weft::remote_task<int> r = h.spawn(compute(42));
//     int v = r.get();                             // blocks this thread, not a worker
//     int w = h.block_on(compute(7));              // spawn + get
//
//     // from a weft task, on this runtime or another one:
//     int x = co_await h.spawn(compute(1));        // suspends the task only
//
//     rt.shutdown(std::chrono::seconds(2));        // or let the destructor do it
//
// With threads == 1 the runtime runs one event loop on a thread of its own,
// with asyncio's semantics on that thread; with N > 1 (or model == go) it
// runs Go mode's N workers. A submission from another thread is a push onto the loop's remote
// queue (or the Go runtime's global queue) and wakes the loop only if it
// sleeps; a blocking get() spins up to 50 us and then sleeps on a futex.
//
// The runtime installs no signal handler and never ends the process: the
// program that hosts it owns its signals and its exit (weft::run, which is
// the program, handles Ctrl-C as asyncio.run does; this does not).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>
#include <weft/run.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

namespace weft {

// Raised when work is handed to a runtime that has shut down (or is shutting
// down), through the runtime, a runtime_handle or run_coroutine_threadsafe;
// and by remote_task::get() for a task the shutdown dropped before it started.
class runtime_closed_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Raised by a blocking wait (block_on, remote_task::get/wait/wait_for on a
// task not done yet) called on an event loop's thread: it would stop that
// loop, and deadlock if the awaited task needs it. Await instead.
class blocking_wait_in_loop_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

namespace detail {

// The shared state behind remote_task<T>: reference counted, touched by the
// submitting thread, the loop that runs the task, and any waiter.
class remote_state_base : public done_node {
public:
    // How the task ended without running: dropped by a shutdown before it
    // started, or cancelled before it started.
    enum class early : std::uint8_t { none, cancelled, closed };

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        // acq_rel: the last release sees every write made through the others.
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy_(this);
    }

    bool done() const noexcept { return (word_.load(std::memory_order_acquire) & done_bit) != 0; }
    // Blocks until done; `until` null means no limit. True when done.
    bool wait(const std::chrono::steady_clock::time_point* until, const char* what);
    // Requests cancellation (thread-safe): of the running task, or of its
    // start. False if it is done already.
    bool cancel();
    // After done: rethrows how the task failed, if it did.
    void rethrow_if_failed();
    const std::string& name() const noexcept { return name_; }
    // Non-null once the task has started (then done() implies it is done).
    task_record* record() const noexcept { return rec_; }

    // Called with the completion of the state: on the loop's thread, or on
    // the caller if already done (see remote_task::add_done_callback).
    void add_callback(std::function<void()> fn);

    // An awaiting weft task (remote_task's awaiter).
    struct waiter : cancel_hook {
        waiter* next = nullptr;
        waiter* prev = nullptr;
        task_record* task = nullptr;
        bool linked = false;
    };
    // Links `w` unless done (then false).
    bool add_waiter(waiter* w);
    void remove_waiter(waiter* w) noexcept;

    // Loop side.
    // The starter found the start cancelled or the runtime gone.
    void finish_early(early how) noexcept;
    // The task was created on the loop's thread: watch it (takes a reference
    // to `rec`). False if a cancel came first: the caller drops the task.
    bool attach(task_record* rec) noexcept;

protected:
    remote_state_base(void (*destroy)(remote_state_base*) noexcept, std::string name) noexcept;
    ~remote_state_base();

private:
    static constexpr std::uint32_t done_bit = 1;
    static constexpr std::uint32_t waiters_bit = 2;
    static void on_task_done(done_node* self, future_core*) noexcept;
    void publish() noexcept;

    std::atomic<std::uint32_t> refs_{2};  // the handle and the starter
    std::atomic<std::uint32_t> word_{0};  // done_bit, waiters_bit: a futex
    void (*destroy_)(remote_state_base*) noexcept;
    std::string name_;
    std::mutex mutex_;
    // Under mutex_.
    task_record* rec_ = nullptr;
    bool cancel_requested_ = false;
    bool finished_ = false;
    early early_ = early::none;
    std::vector<std::function<void()>> callbacks_;
    waiter* waiters_ = nullptr;
};

template <class T>
class remote_state final : public remote_state_base {
public:
    remote_state(task<T> work, std::string name)
        : remote_state_base(&destroy, std::move(name)), work_(std::move(work)) {}

    // Runs on the loop's thread: creates the task there.
    void start() {
        event_loop& loop = get_running_loop();
        task_handle<T> h = name().empty() ? loop.create_task(std::move(work_))
                                          : loop.create_task(std::move(work_), name());
        if (!attach(h.record())) h.cancel();
    }
    task_promise<T>& promise() const noexcept { return *static_cast<task_promise<T>*>(record()); }

private:
    static void destroy(remote_state_base* b) noexcept { delete static_cast<remote_state*>(b); }
    task<T> work_;
};

// The callback a loop runs to start a remote task; if the loop drops it
// without running it (closed), the task ends as runtime_closed_error.
template <class T>
struct remote_starter {
    explicit remote_starter(remote_state<T>* s) noexcept : state(s) {}
    remote_starter(remote_starter&& o) noexcept : state(std::exchange(o.state, nullptr)) {}
    remote_starter(const remote_starter&) = delete;
    ~remote_starter() {
        if (state == nullptr) return;
        state->finish_early(remote_state_base::early::closed);
        state->release();
    }
    void operator()() {
        remote_state<T>* s = std::exchange(state, nullptr);
        try {
            s->start();
        } catch (...) {
            s->finish_early(remote_state_base::early::closed);
        }
        s->release();
    }
    remote_state<T>* state;
};

// Queues `work` on `loop` from any thread; returns the state (one reference).
template <class T>
remote_state<T>* post_remote(event_loop& loop, task<T> work, std::string name) {
    if (!work) throw invalid_state_error("weft: the task is empty (moved from?)");
    auto* s = new remote_state<T>(std::move(work), std::move(name));
    loop.push_remote(event_loop::tag_callback(detail::make_callback(remote_starter<T>(s))));
    return s;
}

class runtime_host;

}  // namespace detail

// A task running on a runtime (or on a loop in another thread), seen from
// any thread: asyncio's concurrent.futures.Future from
// run_coroutine_threadsafe, Tokio's JoinHandle. Copies share the task.
template <class T>
class remote_task {
public:
    using value_type = T;
    remote_task() noexcept = default;
    explicit remote_task(detail::remote_state<T>* adopted) noexcept : s_(adopted) {}
    remote_task(const remote_task& o) noexcept : s_(o.s_) {
        if (s_) s_->add_ref();
    }
    remote_task(remote_task&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    remote_task& operator=(remote_task o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~remote_task() {
        if (s_) s_->release();
    }
    explicit operator bool() const noexcept { return s_ != nullptr; }

    bool done() const { return state().done(); }
    // Blocks the calling thread until the task is done; returns its result
    // (a copy; `std::move(h).get()` moves it out) or rethrows its exception:
    // cancelled_error if it was cancelled, runtime_closed_error if a
    // shutdown dropped it before it started. On an event loop's thread, while
    // the task is not done, raises blocking_wait_in_loop_error: co_await it.
    T get() const& {
        state().wait(nullptr, "weft::remote_task::get");
        return value<false>();
    }
    T get() && {
        state().wait(nullptr, "weft::remote_task::get");
        return value<true>();
    }
    // Blocks until done.
    void wait() const { state().wait(nullptr, "weft::remote_task::wait"); }
    // Blocks until done or `d` has passed; true if done.
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> d) const {
        auto until =
            std::chrono::steady_clock::now() + std::chrono::ceil<std::chrono::nanoseconds>(d);
        return state().wait(&until, "weft::remote_task::wait_for");
    }
    // Requests cancellation, from any thread (the task gets cancelled_error
    // at its suspension point, as with task_handle::cancel). False if done.
    bool cancel() { return state().cancel(); }
    bool cancelled() const {
        if (!done()) return false;
        try {
            state().rethrow_if_failed();
        } catch (const cancelled_error&) {
            return true;
        } catch (...) {
        }
        return false;
    }
    std::string name() const { return state().name(); }

    // `fn(const remote_task<T>&)` runs once the task is done: on the loop
    // thread that finished it, right then (it must be quick and must not
    // block: that thread is a worker); or on the calling thread, before
    // add_done_callback returns, if the task is done already (as
    // concurrent.futures.Future does). What it throws goes to stderr.
    template <class F>
    void add_done_callback(F&& fn) {
        state().add_callback(
            [f = std::forward<F>(fn), self = *this]() mutable { f(std::as_const(self)); });
    }

    // From a weft task, on any loop or runtime: suspends the task (not its
    // thread) until the remote task is done, then returns its result or
    // rethrows. Cancelling the awaiting task cancels the remote one, as
    // asyncio's wrap_future does.
    struct awaiter : detail::remote_state_base::waiter {
        explicit awaiter(detail::remote_state<T>* s) noexcept : s_(s) {}
        awaiter(const awaiter&) = delete;
        awaiter& operator=(const awaiter&) = delete;
        ~awaiter() {
            if (WEFT_UNLIKELY(task != nullptr)) {  // frame torn down while waiting
                task->clear_hook(this);
                s_->remove_waiter(this);
            }
        }
        bool await_ready() const noexcept { return s_->done(); }
        bool await_suspend(std::coroutine_handle<> h) {
            detail::task_record& t = detail::current_task_for_await("a weft::remote_task");
            t.link = h;
            task = &t;
            cancel = [](detail::cancel_hook* self, const std::string*) {
                return static_cast<awaiter*>(self)->s_->cancel();
            };
            t.set_hook(this);
            if (!s_->add_waiter(this)) {
                t.clear_hook(this);
                task = nullptr;
                return false;
            }
            return true;
        }
        T await_resume() {
            if (task != nullptr) {
                task->clear_hook(this);
                task = nullptr;
            }
            detail::check_cancelled();
            s_->rethrow_if_failed();
            if constexpr (!std::is_void_v<T>) {
                // The awaiter got a reference from operator co_await.
                return T(s_->promise().value());
            }
        }
        detail::remote_state<T>* s_;
    };
    awaiter operator co_await() const {
        (void)state();
        return awaiter(s_);
    }

private:
    detail::remote_state<T>& state() const {
        if (WEFT_UNLIKELY(s_ == nullptr)) throw invalid_state_error("weft: empty remote_task");
        return *s_;
    }
    template <bool Move>
    T value() const {
        s_->rethrow_if_failed();
        if constexpr (!std::is_void_v<T>) {
            if constexpr (Move && !std::is_reference_v<T>) {
                return std::move(s_->promise().value());
            } else {
                return s_->promise().value();
            }
        }
    }
    detail::remote_state<T>* s_ = nullptr;
};

// What shutdown() found at its deadline.
struct shutdown_report {
    // Every task finished its cleanup before the deadline.
    bool clean = true;
    // When not clean: the task dump (weft::format_tasks' format: names and
    // await chains) of the tasks still alive at the deadline; empty if no
    // loop could take it (its thread was blocked in a task step).
    std::string task_dump;
    // A runtime thread was still inside a task step when shutdown gave up:
    // it was left running, detached (see runtime::shutdown).
    bool threads_abandoned = false;
    bool empty() const noexcept { return clean; }
    // Human-readable, several lines; empty when clean.
    std::string to_string() const;
};

// runtime's options: weft::run's, plus the threads' names and hooks.
struct runtime_options : run_options {
    // Each thread of the runtime is named "<prefix>-<n>" (cut to the
    // kernel's 15 characters), as seen by top -H, gdb and perf. Empty: the
    // names are left alone.
    std::string thread_name_prefix = "weft";
    // Called on each runtime thread first thing, and last thing before it
    // exits (Tokio's on_thread_start/on_thread_stop). A thread the shutdown
    // abandons (see runtime::shutdown) runs on_thread_stop only if it ever
    // comes back. Exceptions go to stderr.
    std::function<void()> on_thread_start;
    std::function<void()> on_thread_stop;
};

// A cheap, copyable reference to a runtime, for any thread (Tokio's
// Handle). It may outlive the runtime: after the shutdown, handing it work
// raises runtime_closed_error.
class runtime_handle {
public:
    runtime_handle() noexcept = default;

    // Schedules `t` on the runtime from any thread (a foreign thread, a
    // worker, another runtime's task); returns at once. `name` names the
    // task (task dumps, shutdown reports).
    template <class T>
    remote_task<T> spawn(task<T> t, std::string name = {}) const {
        submit_guard guard(host());
        return remote_task<T>(detail::post_remote(guard.loop(), std::move(t), std::move(name)));
    }
    // spawn(t).get(), for threads that are not running an event loop; on a
    // loop's thread it raises blocking_wait_in_loop_error instead of waiting
    // (a worker waiting for its own runtime could wait forever).
    template <class T>
    T block_on(task<T> t) const {
        check_may_block("weft::runtime::block_on");
        return spawn(std::move(t)).get();
    }
    // False once the runtime has begun to shut down (or for an empty handle).
    bool is_open() const noexcept;
    explicit operator bool() const noexcept { return host_ != nullptr; }

    static void check_may_block(const char* what);

private:
    friend class runtime;
    explicit runtime_handle(std::shared_ptr<detail::runtime_host> h) noexcept
        : host_(std::move(h)) {}
    detail::runtime_host& host() const;

    // Admits one submission: raises runtime_closed_error once shutdown has
    // begun; shutdown waits for admitted ones to finish queueing.
    class submit_guard {
    public:
        explicit submit_guard(detail::runtime_host& h);
        ~submit_guard();
        submit_guard(const submit_guard&) = delete;
        submit_guard& operator=(const submit_guard&) = delete;
        event_loop& loop() const noexcept { return *loop_; }

    private:
        detail::runtime_host& host_;
        event_loop* loop_;
    };

    std::shared_ptr<detail::runtime_host> host_;
};

class runtime {
public:
    // Starts the threads and returns. Raises std::invalid_argument for bad
    // options (as weft::run does).
    explicit runtime(runtime_options options = {});
    // shutdown(); a report that is not empty is written to stderr.
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    // shutdown()'s deadline when run_options::shutdown_timeout is 0.
    static constexpr std::chrono::milliseconds default_shutdown_timeout{5000};

    runtime_handle handle() const noexcept { return runtime_handle(host_); }
    template <class T>
    remote_task<T> spawn(task<T> t, std::string name = {}) const {
        return handle().spawn(std::move(t), std::move(name));
    }
    template <class T>
    T block_on(task<T> t) const {
        return handle().block_on(std::move(t));
    }
    int threads() const noexcept { return threads_; }

    // Stops taking work (spawn raises runtime_closed_error from here on),
    // cancels every task, and lets them run their cleanup until `timeout`
    // has passed. Then the loops stop and the threads are joined, and what
    // was still alive at the deadline is in the report: a task that
    // swallows its cancellation is named there, and its frame is destroyed
    // with its loop (its handles see it cancelled).
    //
    // A thread blocked inside a task step (a blocking call, a busy loop)
    // cannot be stopped from outside. Shutdown then does not wait for it:
    // the thread is detached and keeps the runtime's internal state alive;
    // if its step ever returns, it finds the loop stopped, frees that state
    // and exits. Its tasks' frames are not destroyed meanwhile. Returns
    // within about `timeout` + 40 ms. Calling it again returns an empty report.
    shutdown_report shutdown(std::chrono::nanoseconds timeout);
    // With the options' shutdown_timeout, or default_shutdown_timeout.
    shutdown_report shutdown() { return shutdown(shutdown_timeout_); }

private:
    std::shared_ptr<detail::runtime_host> host_;
    std::chrono::nanoseconds shutdown_timeout_{default_shutdown_timeout};
    int threads_ = 1;
};

// asyncio.run_coroutine_threadsafe: schedules `t` on the loop of another
// thread (or on a runtime) and returns a handle that any thread may wait on.
// With an event_loop, the loop must outlive the call and be running (or be
// run later) on its own thread: exactly asyncio's contract.
template <class T>
remote_task<T> run_coroutine_threadsafe(task<T> t, const runtime_handle& rt) {
    return rt.spawn(std::move(t));
}
template <class T>
remote_task<T> run_coroutine_threadsafe(task<T> t, const runtime& rt) {
    return rt.spawn(std::move(t));
}
template <class T>
remote_task<T> run_coroutine_threadsafe(task<T> t, event_loop& loop) {
    return remote_task<T>(detail::post_remote(loop, std::move(t), {}));
}

}  // namespace weft
