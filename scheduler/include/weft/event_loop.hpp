// weft::event_loop: asyncio's event loop, and in Go mode one worker of the
// runtime.
//
// Single-thread (asyncio) mode. One loop runs on one thread. Each iteration
// does what asyncio's _run_once does, in this order (event_loop::run_once,
// one function, top to bottom):
//
//   1. drop cancelled timers from the front of the timer heap;
//   2. poll for I/O, waiting only if nothing is ready: until the next timer,
//      or indefinitely when there is none (another thread's
//      call_soon_threadsafe wakes the wait through an eventfd);
//   3. move every timer that is due to the ready queue;
//   4. run exactly the callbacks and task steps that were ready when step 4
//      began; what they schedule runs in the next iteration.
//
// Tasks, futures, sleep and the combinators all schedule through this queue
// the way asyncio does, which is what makes a program's trace the same as its
// Python twin's (tests/conformance pins that down).
//
// Go mode. Each worker thread of the runtime drives one event_loop, with its
// own timers and poller, but it schedules through a detail::go_worker
// (go_worker.hpp, go_worker.cpp): a bounded lock-free local queue plus a
// runnext slot, from which idle workers steal. The loop reaches its worker
// once per entry point (push_wake, push_ready, ready_count), through calls
// declared here and defined there, so no worker internals live in this
// header. What a program sees through this class is the same in both
// modes: get_running_loop() is the worker it is on.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <weft/detail/callback.hpp>
#include <weft/detail/context_map.hpp>
#include <weft/detail/poller.hpp>
#include <weft/detail/ring_queue.hpp>
#include <weft/detail/thread_context.hpp>
#include <weft/detail/timer_heap.hpp>

namespace weft {

namespace detail {
class task_record;
struct remote_queue;
class runtime_core;
class go_worker;
struct loop_settings;
struct machine;

// A Go-mode worker's half of the loop (go_worker.cpp), reached only here.
void go_worker_push_wake(go_worker& w, std::uintptr_t item);
void go_worker_push_ready(go_worker& w, std::uintptr_t item);
std::size_t go_worker_ready_count(const go_worker& w) noexcept;
// A task awaiting `child` while the child still waits, unstarted, near the
// top of this worker's queues (it was spawned here and not stolen): runs
// the child's first step right here, inside the joiner's step, after the
// unstarted tasks spawned since, newest first, as the worker would once the
// joiner suspended; the joiner then need not suspend at all (Go mode only;
// asyncio mode keeps asyncio's order). True if it ran any; the child may be
// done, or suspended, or stolen meanwhile.
bool go_worker_join_inline(task_record& child);

// The key to event_loop's worker constructor: only the runtime makes one.
class worker_key {
    friend class runtime_core;
    worker_key() = default;
};

}  // namespace detail

template <class T>
class task;
template <class T>
class task_handle;

// asyncio.Handle: a scheduled callback that can be cancelled before it runs.
class handle {
public:
    handle() noexcept = default;
    explicit handle(detail::callback_base* cb) noexcept : cb_(cb) {}  // adopts a reference
    handle(const handle& o) noexcept : cb_(o.cb_) {
        if (cb_) cb_->add_ref();
    }
    handle(handle&& o) noexcept : cb_(std::exchange(o.cb_, nullptr)) {}
    handle& operator=(handle o) noexcept {
        std::swap(cb_, o.cb_);
        return *this;
    }
    ~handle() {
        if (cb_) cb_->release();
    }

    // Stops the callback from running if it has not run yet.
    void cancel() noexcept;
    bool cancelled() const noexcept {
        return cb_ && cb_->cancelled.load(std::memory_order_relaxed);
    }
    explicit operator bool() const noexcept { return cb_ != nullptr; }

protected:
    detail::callback_base* cb_ = nullptr;
};

// asyncio.TimerHandle: adds the deadline, in the loop's time() seconds.
class timer_handle : public handle {
public:
    using handle::handle;
    double when() const noexcept { return cb_ ? static_cast<double>(cb_->when) * 1e-9 : 0.0; }
};

// What an exception handler is told (asyncio's context dict).
struct exception_context {
    std::string message;           // e.g. "Task exception was never retrieved"
    std::exception_ptr exception;  // may be null
    std::string task_name;         // the task concerned, if any
};

class event_loop;
using exception_handler = std::function<void(event_loop&, const exception_context&)>;

class event_loop {
public:
    // A loop for single-thread (asyncio) mode, its I/O on `io`
    // (resolve_io_backend: WEFT_IO when automatic).
    event_loop();
    explicit event_loop(io_backend io);
    ~event_loop();
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    // ---- time: a monotonic clock, in seconds (time) or nanoseconds (time_ns)
    double time() const noexcept { return static_cast<double>(time_ns()) * 1e-9; }
    static std::int64_t time_ns() noexcept;

    // ---- callbacks. `f` is any callable taking no arguments (bind arguments
    // with a lambda). Exceptions escaping it go to the exception handler.
    // Like asyncio's, these are for the loop's own thread (in Go mode: any
    // worker of the runtime); another thread gets std::logic_error and should
    // use call_soon_threadsafe.
    template <class F>
    handle call_soon(F&& f) {
        event_loop& l = here("call_soon");
        auto* cb = detail::make_callback(detail::bind_context(std::forward<F>(f)), 2);
        l.push_ready(tag_callback(cb));
        return handle(cb);
    }
    // The one method for any thread: queues `f` and wakes the loop if it is
    // waiting.
    template <class F>
    handle call_soon_threadsafe(F&& f) {
        auto* cb = detail::make_callback(detail::bind_context(std::forward<F>(f)), 2);
        push_remote(tag_callback(cb));
        return handle(cb);
    }
    // Negative delays count as zero, as in asyncio.
    template <class F>
    timer_handle call_later(double delay_seconds, F&& f) {
        return call_at_ns(time_ns() + seconds_to_ns(delay_seconds), std::forward<F>(f));
    }
    template <class Rep, class Period, class F>
    timer_handle call_later(std::chrono::duration<Rep, Period> delay, F&& f) {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count();
        return call_at_ns(time_ns() + (ns > 0 ? ns : 0), std::forward<F>(f));
    }
    // `when` is in time() seconds.
    template <class F>
    timer_handle call_at(double when, F&& f) {
        return call_at_ns(static_cast<std::int64_t>(when * 1e9), std::forward<F>(f));
    }

    // ---- other libraries' file descriptors (asyncio's add_reader & co;
    // fd_watch.cpp). Calls `callback` (on this loop, as a call_soon made
    // here would) whenever `fd` is readable (add_reader) or writable
    // (add_writer), level-triggered, until removed; a callback that reads
    // or writes nothing is called again at the next iteration. A second add
    // for the same fd and direction replaces the callback. The fd stays the
    // caller's: remove it before closing it (a closed fd is dropped by
    // epoll, so nothing crashes, but a duplicate of it would keep the watch
    // alive). In Go mode the fd is polled by the worker that registered it
    // and its callbacks are queued there; any worker may remove it. A
    // callback may, rarely, find the fd not ready (use non-blocking I/O).
    // Throw std::invalid_argument for a negative fd, std::system_error
    // naming the fd when it is not open or epoll cannot watch it (a regular
    // file; an fd a weft::io object already owns).
    void add_reader(int fd, std::function<void()> callback);
    void add_writer(int fd, std::function<void()> callback);
    // False if no callback was registered (or the loop is closed).
    bool remove_reader(int fd);
    bool remove_writer(int fd);

    // ---- driven by a host's loop (single-thread mode; fd_watch.cpp). A host
    // that has its own poll()/epoll/UI loop watches pollable_fd() for
    // readability next to its own fds, and calls step() when it is readable
    // or when next_timeout_ns() has passed. The fd is readable whenever the
    // loop has work: I/O ready, a timer due, callbacks queued (call_soon
    // from a step or from the host between steps, call_soon_threadsafe from
    // any thread).
    int pollable_fd();
    // Runs one iteration (asyncio's _run_once) without waiting for I/O.
    void step();
    // Nanoseconds until the loop has work for sure: 0 if it has some now,
    // the time to the next timer, or -1 if there is nothing to wait for.
    std::int64_t next_timeout_ns() const;

    // ---- tasks (defined in task_handle.hpp)
    // Schedules `t`; it starts at the next iteration (asyncio mode) or as soon
    // as a worker is free (Go mode).
    template <class T>
    task_handle<T> create_task(task<T> t);
    template <class T>
    task_handle<T> create_task(task<T> t, std::string name);
    // Runs the loop until the task completes; returns its result or rethrows.
    // Single-thread mode only (use weft::run for Go mode).
    template <class T>
    T run_until_complete(task<T> t);
    template <class T>
    T run_until_complete(task_handle<T> h);

    // ---- running (single-thread mode)
    // Runs until stop() is called.
    void run_forever();
    // Runs iterations until `done()` is true (checked before each) or stop().
    void run_until(const std::function<bool()>& done);
    // Runs one iteration of the loop (asyncio's _run_once).
    void run_once();
    // Stops run_forever() after the current iteration (in Go mode: stops the
    // whole runtime once the main task is done).
    void stop() noexcept { stopping_ = true; }
    bool is_running() const noexcept { return running_; }
    bool is_closed() const noexcept { return closed_; }
    // Releases everything the loop holds. A task still pending is reported
    // ("Task was destroyed but it is pending!"), completed as cancelled and
    // destroyed once no handle holds it. Raises if running.
    void close();

    // Single-thread mode: at the start of every iteration, if `*counter`
    // differs from the last value seen (initially 0), call
    // `on_change(new value)` (the
    // runner watches its SIGINT counter this way; a signal handler may bump
    // it and write wakeup_fd() to break a wait). Null stops watching.
    void set_interrupt_watch(const std::atomic<int>* counter, std::function<void(int)> on_change) {
        watch_ = counter;
        watch_seen_ = 0;  // a change before the first look counts too
        on_watch_ = std::move(on_change);
    }
    // Writing 8 bytes (a uint64_t) here wakes the loop from a wait; the one
    // thing a signal handler may do with a loop.
    int wakeup_fd() const noexcept { return wakeup_fd_; }

    // ---- debug mode and error reporting (in Go mode, shared by all workers)
    void set_debug(bool on) noexcept;
    bool get_debug() const noexcept;
    // In debug mode a callback or task step slower than this is reported.
    void set_slow_callback_duration(double seconds) noexcept;
    double slow_callback_duration() const noexcept;
    // In Go mode the handler may be called from several workers at once.
    void set_exception_handler(exception_handler h);
    // Runs the handler (or the default one) on `ctx`; never throws.
    void call_exception_handler(const exception_context& ctx) noexcept;
    // Writes the context to stderr.
    static void default_exception_handler(const exception_context& ctx) noexcept;

    // ---- shutdown callbacks (for components that keep per-loop resources)
    // Runs `fn` once when this loop shuts down (in Go mode: when the runtime
    // this worker belongs to does), with no loop of it running any more and
    // before its pending tasks are torn down: at the start of close() for a
    // single-thread loop (weft::run and runner::close end with that), and
    // after the workers have stopped in Go mode. It is how the executors
    // shut their default thread pool down at the end of weft::run, as
    // asyncio.run does with loop.shutdown_default_executor(). Any thread may
    // add one; exceptions escaping `fn` go to the default exception handler.
    void add_shutdown_callback(std::function<void()> fn);

    // ---- for the runtime's own components (tasks, futures, I/O, executors)
    static std::uintptr_t tag_task(detail::task_record* t) noexcept {
        return reinterpret_cast<std::uintptr_t>(t);
    }
    static std::uintptr_t tag_callback(detail::callback_base* cb) noexcept {
        return reinterpret_cast<std::uintptr_t>(cb) | 1u;
    }
    // On this loop's thread: a task just spawned or woken. Go mode puts it in
    // the runnext slot (the task it displaces goes to the deque), asyncio
    // mode at the back of the ready queue.
    void push_wake(std::uintptr_t item) {
        if (worker_) return detail::go_worker_push_wake(*worker_, item);
        if (WEFT_UNLIKELY(between_steps_)) note_outside_work();
        ready_.push_back(item);
    }
    // On this loop's thread: at the back of the ready queue, behind other
    // ready work, in FIFO order (callbacks, yields, due timers). In Go mode
    // this is the worker's own FIFO (go_worker::push_ready).
    void push_ready(std::uintptr_t item) {
        if (worker_) return detail::go_worker_push_ready(*worker_, item);
        if (WEFT_UNLIKELY(between_steps_)) note_outside_work();
        ready_.push_back(item);
    }
    // From any thread: queues the item and wakes the loop (Go mode: the
    // runtime's global queue, and a parked worker).
    void push_remote(std::uintptr_t item);
    // Schedules `item` from whatever thread this is: on this thread's loop if
    // it belongs to the same scheduler as `home`, else remotely through
    // `home`. `wake` chooses push_wake over push_ready.
    static void schedule(event_loop* home, std::uintptr_t item, bool wake);
    // The loop an API call on `this` should act on from this thread: `this`,
    // or in Go mode the worker this thread drives. Raises std::logic_error
    // naming `what` when called from a thread that may not touch the loop.
    event_loop& here(const char* what) {
        if (WEFT_LIKELY(detail::tls_ctx.loop == this && !closed_)) return *this;
        return here_slow(what);
    }
    // Adds a timer (the heap takes the caller's reference to `cb`).
    void add_timer(detail::callback_base* cb, std::int64_t when_ns);
    // Registers fd `fd` for `write` or read (fd_watch.cpp); `exclusive`
    // refuses to replace a callback already there.
    void add_watch(int fd, bool write, std::function<void()> callback, const char* what,
                   bool exclusive);
    bool remove_watch(int fd, bool write) noexcept;
    // Counts a cancelled timer, for compaction.
    void note_timer_cancelled() noexcept {
        cancelled_timers_.fetch_add(1, std::memory_order_relaxed);
    }
    detail::poller& poller() noexcept { return *poller_; }
    // The registry of live tasks (all_tasks()). register_task on this loop's
    // thread; unregister_task from any thread: returns false when the task
    // was queued for this loop to unlink later (it then releases it).
    void register_task(detail::task_record* t) noexcept;
    bool unregister_task(detail::task_record* t) noexcept;
    std::vector<detail::task_record*> live_tasks() const;
    // How many items wait in the ready FIFO. A thread that lost this loop
    // in a hand-off, in the middle of a step, gets 0: the FIFO is another
    // thread's now.
    std::size_t ready_count() const noexcept {
        return worker_ ? detail::go_worker_ready_count(*worker_) : ready_.size();
    }

    // Go mode: the runtime this loop is a worker of (null in asyncio mode).
    detail::runtime_core* runtime() const noexcept { return rt_; }
    unsigned worker_index() const noexcept { return index_; }
    bool same_scheduler(const event_loop* other) const noexcept {
        return other != nullptr && group_ == other->group_;
    }
    // Go mode: its worker (null in asyncio mode), opaque outside the
    // scheduler (weft/detail/go_worker.hpp).
    detail::go_worker* worker() const noexcept { return worker_.get(); }

    // For the Go worker's scheduling loop (go_worker.cpp), on the thread
    // that drives this loop: run one queued item; the timer heap's upkeep
    // (what is cancelled, what is due, how long until the next); the task
    // registry's list; and whether this thread is running the loop.
    void run_item(std::uintptr_t item);
    void drop_cancelled_timers();
    // Moves the due timers to the ready queue (Go mode: the worker's FIFO);
    // returns how many.
    std::size_t collect_due_timers();
    std::int64_t next_timer_timeout() const;
    void link_locally(detail::task_record* t) noexcept;
    void unlink_locally(detail::task_record* t) noexcept;
    void set_worker_running(bool on) noexcept {
        running_ = on;
        detail::tls_ctx.loop = on ? this : nullptr;
    }
    // Makes the loop's wait in its poller return (a parked worker wakes).
    void wake_thread() noexcept;
    // Waits until no thread is inside push_remote on this loop (remote_pushes_).
    void wait_remote_pushes() const noexcept;
    // A worker of a Go-mode runtime (made by the runtime only).
    event_loop(detail::worker_key, detail::runtime_core* rt, unsigned index,
               detail::loop_settings* shared, io_backend io);

    // The loop running on this thread, or null.
    static event_loop* current() noexcept { return detail::tls_ctx.loop; }

    // Brackets an owner-only operation on a Go-mode worker's loop (its
    // deque, runnext, FIFO, timers, task registry). The monitor may hand a
    // blocked loop to another thread while the blocked thread is still
    // inside a task step; from then on that thread must not touch the loop,
    // and its operations take the thread-safe paths instead.
    //
    // The protocol is an asymmetric Dekker: this thread raises its owner_ops
    // count, then (compiler fence only) reads `owner`; the monitor writes
    // `owner`, runs membarrier(), which puts a full fence in every thread,
    // then waits for the old owner's count to drop to zero. Either this
    // thread sees the new owner, or the monitor sees it inside the operation
    // and waits it out (detail/handoff.hpp, model-checked).
    //
    // A loop in asyncio mode is always owned by its thread. The scheduler's
    // own hot paths use the inlined detail::owner_guard.
    class owner_scope {
    public:
        explicit owner_scope(const event_loop& l) noexcept;
        ~owner_scope();
        owner_scope(const owner_scope&) = delete;
        owner_scope& operator=(const owner_scope&) = delete;
        bool owned() const noexcept { return owned_; }

    private:
        detail::thread_context& ctx_;
        bool owned_;
    };

private:
    void init_wakeup();

    static std::int64_t seconds_to_ns(double s) noexcept {
        return s > 0 ? static_cast<std::int64_t>(s * 1e9) : 0;
    }
    template <class F>
    timer_handle call_at_ns(std::int64_t when_ns, F&& f) {
        event_loop& l = here("call_later");
        auto* cb = detail::make_callback(detail::bind_context(std::forward<F>(f)), 2);
        l.add_timer(cb, when_ns);
        return timer_handle(cb);
    }
    void check_open(const char* what) const;
    event_loop& here_slow(const char* what);
    template <class T>
    task_handle<T> spawn_task(task<T> t, std::string* name);
    template <class Done>
    void run_loop(Done done);
    // The checks run_loop and step make before this thread runs the loop,
    // and the running state they set for as long as it lives.
    class running_scope;
    void run_once_impl(bool may_wait);
    // Host mode, between steps: make pollable_fd() readable for work queued
    // from outside a step.
    void note_outside_work() noexcept;
    void host_idle() noexcept;
    void arm_host_timer() noexcept;
    static void on_host_timer(detail::poll_target* self, std::uint32_t events) noexcept;
    // Runs a callback unless cancelled, reporting what it throws; releases it.
    void run_callback(detail::callback_base* cb);
    void run_item_timed(std::uintptr_t item);
    void drain_remote();
    void report_slow(detail::task_record* t, double seconds);
    static void on_wakeup_fd(detail::poll_target* self, std::uint32_t events) noexcept;
    // A thread that lost this worker loop in a hand-off adds its timer
    // through whichever worker takes it from the global queue.
    void add_timer_remote(detail::callback_base* cb, std::int64_t when_ns);
    bool spin_for_remote(std::int64_t timeout_ns);

    detail::ring_queue<std::uintptr_t> ready_;
    detail::timer_heap timers_;
    std::atomic<std::size_t> cancelled_timers_{0};
    std::unique_ptr<detail::poller> poller_;
    std::unique_ptr<detail::remote_queue> remote_;
    // Wake-up protocol with push_remote (see there): true while the loop is
    // about to wait or waiting in the poller with a non-zero timeout.
    std::atomic<bool> sleeping_{false};
    // Set by push_remote after enqueueing, taken by drain_remote: an empty
    // remote queue costs one load per iteration.
    std::atomic<bool> remote_dirty_{false};
    // push_remote calls in progress. Once its item is queued, a thread
    // outside the loop is still reading the loop (and its runtime) to wake
    // it, while the item may already have run and let the owner destroy
    // both: their destructors wait for this to drop to zero first.
    std::atomic<int> remote_pushes_{0};
    // Whether the last wake-up brought work from other threads: such a loop
    // spins a moment before it sleeps (spin_for_remote), since the next
    // submission likely follows at once.
    bool remote_active_ = false;
    int wakeup_fd_ = -1;
    struct wakeup_target : detail::poll_target {
        event_loop* loop = nullptr;
    } wakeup_target_;
    // Host mode (pollable_fd): a timerfd armed for the next timer, and
    // whether the host, between steps, may queue work that must wake it.
    int host_timer_fd_ = -1;
    wakeup_target host_timer_target_;
    bool between_steps_ = false;

    detail::task_record* tasks_head_ = nullptr;  // registry of live tasks
    std::size_t task_count_ = 0;

    // Settings: its own in asyncio mode, the runtime's in Go mode.
    std::unique_ptr<detail::loop_settings> own_settings_;
    detail::loop_settings* settings_;

    // Go mode.
    detail::runtime_core* rt_ = nullptr;
    unsigned index_ = 0;
    const void* group_;  // loops that may run each other's tasks share it
    std::unique_ptr<detail::go_worker> worker_;

    const std::atomic<int>* watch_ = nullptr;
    int watch_seen_ = 0;
    std::function<void(int)> on_watch_;

    bool stopping_ = false;
    bool running_ = false;
    bool closed_ = false;
};

// The loop running on this thread; throws no_running_loop_error if none
// (asyncio.get_running_loop).
event_loop& get_running_loop();

}  // namespace weft
