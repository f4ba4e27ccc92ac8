// The Go-mode runtime: N workers, each an event_loop on its own thread (the
// first on the thread that calls run), a global injection queue, and the idle
// protocol that parks and wakes workers.
//
// Work reaches a worker in four ways: its own spawns and wake-ups (runnext
// and the local queue), the global queue (work from outside threads and
// overflow from full local queues), stealing half of another worker's local
// queue, and its own timers and poller. See detail::go_worker::run (go_worker.cpp).
//
// Threads (machines, machine.hpp) are not tied to workers: a worker whose
// thread blocks inside a task step is handed to a spare thread by the
// monitor (Go's sysmon, monitor.cpp), so at most `workers` loops run at once
// but more threads may exist, the others blocked or spare.
//
// Shutdown, as asyncio.run does it: when the main task is done, every worker
// cancels the tasks registered with it, and all keep running until those have
// finished their cleanup; then the workers stop and their threads are joined.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <weft/detail/idle.hpp>
#include <weft/event_loop.hpp>
#include <weft/io_backend.hpp>

namespace weft {

// Counters of one worker, readable while it runs (the runtime metrics).
struct worker_stats {
    std::uint64_t tasks_run = 0;        // task steps and callbacks run
    std::uint64_t steal_attempts = 0;   // victims tried
    std::uint64_t steal_successes = 0;  // tries that got something
    std::uint64_t tasks_stolen = 0;     // items taken by those
    std::uint64_t parks = 0;
    std::uint64_t unparks = 0;
    std::uint64_t injection_pulls = 0;  // items taken from the global queue
    std::uint64_t overflows = 0;        // times half the local queue went global
    std::uint64_t local_queue_depth = 0;
    std::uint64_t busy_ns = 0;   // time not parked
    std::uint64_t handoffs = 0;  // times it went to another thread (blocked step)
    // Tasks whose first step ran inside a join, in the step of the task
    // awaiting them, which then did not suspend for them (fork-join code).
    std::uint64_t joins_in_place = 0;
};

// How a Go-mode runtime treats a step that blocks its thread.
struct blocking_options {
    // A worker inside one step for longer than this is handed to another
    // thread. Zero turns the monitor off.
    std::chrono::nanoseconds threshold = std::chrono::milliseconds(10);
    // Threads beyond the workers, blocked or spare, at most (Tokio: 512).
    unsigned max_blocking_threads = 512;
};

namespace detail {

struct machine;

struct fd_registry;

struct loop_settings {
    loop_settings() = default;
    ~loop_settings();  // fd_watch.cpp: frees the fd registry
    loop_settings(const loop_settings&) = delete;
    loop_settings& operator=(const loop_settings&) = delete;

    std::atomic<bool> debug{false};
    // debug or WEFT_TRACE: the one flag the step path tests (run_item).
    std::atomic<bool> instrumented{false};
    std::atomic<double> slow_s{0.1};
    std::mutex mutex;
    exception_handler handler;
    // event_loop::add_shutdown_callback; run (and emptied) by
    // run_shutdown_callbacks. Guarded by `mutex`.
    std::vector<std::function<void()>> shutdown_callbacks;
    // add_reader & co (fd_watch.cpp): made on first use. acquire/release:
    // pairs the publishing CAS with the readers of the pointer.
    std::atomic<fd_registry*> fds{nullptr};
};

// Runs the shutdown callbacks of `s`, including any that they add.
void run_shutdown_callbacks(loop_settings& s) noexcept;

// What every thread of a runtime does around its life (weft::runtime's
// options): a name for the kernel (pthread_setname_np: the prefix, a dash
// and the thread's number, cut to 15 characters) and hooks called on the
// thread itself, first and last thing. Empty means nothing.
struct thread_setup {
    std::string name_prefix;
    std::function<void()> on_start;
    std::function<void()> on_stop;
};
// Names the calling thread `prefix-index` and runs `on_start`; the hooks'
// exceptions go to the default exception handler.
void begin_runtime_thread(const thread_setup& setup, unsigned index) noexcept;
void end_runtime_thread(const thread_setup& setup) noexcept;

class runtime_core {
public:
    // Every worker's loop does its I/O on `io` (resolved once for all).
    explicit runtime_core(unsigned workers, blocking_options blocking = {},
                          io_backend io = io_backend::automatic);
    ~runtime_core();
    runtime_core(const runtime_core&) = delete;
    runtime_core& operator=(const runtime_core&) = delete;

    unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }
    event_loop& worker(unsigned i) noexcept { return *workers_[i]; }
    // Worker 0, which run() drives on the calling thread.
    event_loop& main_loop() noexcept { return *workers_[0]; }

    // Runs every worker until `main` (a task registered on a worker) is
    // done, then stops them. The calling thread only waits; if given, it
    // looks at `interrupts` every 50 ms and calls `on_interrupt` when it
    // differs from the last value seen, starting from 0 (the runner's SIGINT
    // handling: a signal may arrive before the first look).
    void run(task_record* main, const std::atomic<int>* interrupts = nullptr,
             const std::function<void(int)>& on_interrupt = {});
    // asyncio.run's ending: cancels the tasks still pending, runs the
    // workers until their cleanup is done, stops them, and reports failures
    // of those tasks to the exception handler. With a deadline, the
    // cancellation ends there: `at_deadline` runs (the loops still running)
    // if tasks are left, and the loops stop anyway.
    void shutdown(std::chrono::steady_clock::time_point deadline =
                      std::chrono::steady_clock::time_point::max(),
                  const std::function<void()>& at_deadline = {});
    bool started() const noexcept { return started_.load(std::memory_order_acquire); }

    // ---- a runtime in the background (weft::runtime): the loops run with
    // no main task, started and stopped by the owner.
    // Before start(): what each thread does when it starts and ends.
    void set_thread_setup(thread_setup setup) { thread_setup_ = std::move(setup); }
    void start() { start_loops(); }
    // Shutdown's cancellation rounds on running loops, until every task is
    // done (true) or `deadline` passes (false).
    bool cancel_pending(std::chrono::steady_clock::time_point deadline);
    // Stops the loops; false if some loop is still driven at `deadline` (its
    // thread is blocked in a step and the monitor is off).
    bool stop(std::chrono::steady_clock::time_point deadline) { return stop_loops(deadline); }
    // After stop(): whether some thread is still inside a task step (one
    // whose loop was handed off): the destructor would wait for it.
    bool thread_in_step();
    // After stop(): reports the failures of the tasks cancelled by the
    // rounds, as asyncio.run does, and drops them.
    void report_leftovers();

    // ---- scheduling
    // From any thread: queues `item` globally and wakes a worker if needed.
    void inject(std::uintptr_t item);
    void inject_batch(const std::uintptr_t* items, std::size_t n);
    // A worker takes a batch from the global queue into `into`'s local queue
    // and returns one item to run, or 0.
    std::uintptr_t pop_global(go_worker& into);
    bool global_empty() const noexcept;
    // Wakes a parked worker if the idle protocol says one is needed.
    void notify_parked();
    // Rule 5 of idle.hpp: the last searcher, having parked, looks at every
    // queue once more and wakes someone if there is work.
    void notify_if_work_pending();
    detail::idle& idle() noexcept { return idle_; }

    // ---- lifecycle, as seen by workers
    bool stopping() const noexcept { return stop_.load(std::memory_order_acquire); }
    // Cancellation rounds of the shutdown started so far (0 while running).
    unsigned cancel_round() const noexcept { return cancel_round_.load(std::memory_order_acquire); }
    // A worker cancels its own leftover tasks in a shutdown round.
    void cancel_leftovers(event_loop& w);

    // ---- machines and the monitor (monitor.cpp)
    // weft::blocking: gives `loop`, which machine `m` (the caller) drives, to
    // a spare thread. True when the caller no longer drives it (also when
    // the monitor took it first); false when no thread may be added.
    bool hand_off(machine& m, event_loop& loop);
    // Threads the runtime has made (workers, blocked and spare).
    std::size_t machine_count();
    // While held (a task dump stops the world), the monitor hands nothing
    // off: the stopped workers wait on purpose.
    void hold_monitor() noexcept { monitor_holds_.fetch_add(1, std::memory_order_relaxed); }
    void release_monitor() noexcept { monitor_holds_.fetch_sub(1, std::memory_order_relaxed); }

    // True while a thread runs a task step whose loop was taken from it
    // (blocked and handed off, or weft::blocking): that step goes on while
    // a dump has stopped the world, so its task's frames may change.
    bool blocked_step_running();

    std::vector<worker_stats> stats() const;
    std::string stats_report() const;
    loop_settings& settings() noexcept { return settings_; }

private:
    // Gives every worker a machine and starts the monitor.
    void start_loops();
    // Stops the workers and waits until no machine drives one (or until
    // `deadline`: false then).
    bool stop_loops(std::chrono::steady_clock::time_point deadline =
                        std::chrono::steady_clock::time_point::max());
    // A spare machine, or a new one while fewer than size() +
    // max_blocking_threads exist; null at that limit.
    machine* acquire_spare();
    machine* acquire_spare_locked();  // with machines_mutex_ held
    void release_spare(machine* m);
    // Gives `loop` to `m`, whose thread starts driving it.
    void assign(machine& m, event_loop& loop);
    void machine_main(machine& m);
    void monitor_main();
    // Takes `loop` from `m`, blocked in step `step`, for a spare.
    void retake(machine& m, event_loop& loop, std::uint64_t step);
    void wake_all() noexcept;
    std::size_t live_tasks() const noexcept;

    loop_settings settings_;
    thread_setup thread_setup_;
    std::vector<std::unique_ptr<event_loop>> workers_;
    const blocking_options blocking_;
    // Machines: all of them, the spare ones, and how many loops are being
    // driven (run and shutdown wait for zero).
    std::mutex machines_mutex_;
    std::condition_variable loops_stopped_;
    std::vector<std::unique_ptr<machine>> machines_;
    std::vector<machine*> spares_;
    unsigned loops_running_ = 0;
    // The monitor thread, while loops run.
    std::thread monitor_;
    std::mutex monitor_mutex_;
    std::condition_variable monitor_cv_;
    bool monitor_stop_ = false;
    std::atomic<int> monitor_holds_{0};
    struct global_queue;
    std::unique_ptr<global_queue> global_;
    detail::idle idle_;
    std::atomic<bool> started_{false};
    std::atomic<bool> stop_{false};
    std::atomic<unsigned> cancel_round_{0};
    // Leftover tasks cancelled at shutdown, to report their failures after.
    std::mutex leftovers_mutex_;
    std::vector<task_record*> leftovers_;
};

}  // namespace detail

}  // namespace weft
