// Entry points: weft::run (asyncio.run) and weft::runner (asyncio.Runner).
//
//     weft::task<int> main_task() { ...; co_return 0; }
//     int main() { return weft::run(main_task()); }
//
// run() creates a loop, runs the task to completion, then cancels whatever
// tasks are still pending and waits for their cleanup, and closes the loop.
// It returns the task's result or rethrows its exception.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

#include <weft/detail/runtime_core.hpp>
#include <weft/event_loop.hpp>
#include <weft/io_backend.hpp>
#include <weft/parallelism.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

namespace weft {

// Which scheduler runs the tasks (docs/models.md).
enum class scheduling_model {
    // asyncio's at one thread, Go's at more; WEFT_MODEL, when set, decides.
    automatic,
    // One event loop on the calling thread, asyncio's FIFO order and
    // semantics (trace for trace). One thread only.
    asyncio,
    // Go's: per-worker runnext slot, deque, global queue, stealing, the
    // cooperative budget and the blocking hand-off, on worker threads (the
    // calling thread waits). At one thread it runs one worker, so the two
    // models can be compared at equal threads.
    go,
};

// "asyncio" or "go" ("automatic" for the default).
const char* to_string(scheduling_model m) noexcept;
// Parses "asyncio" or "go"; raises configuration_error naming `source` (a
// flag or variable) and the bad value otherwise.
scheduling_model parse_scheduling_model(std::string_view text, std::string_view source);

struct run_options {
    // Worker threads. 1 runs asyncio's model on the calling thread; N > 1
    // runs Go's model on N worker threads (the calling thread waits), at most
    // max_threads (parallelism.hpp). 0 means "not given": the WEFT_THREADS
    // environment variable decides, else 1; WEFT_THREADS set but empty counts
    // as not set.
    int threads = 0;
    // The scheduler: asyncio's needs threads == 1; Go's takes any count.
    // automatic: the WEFT_MODEL environment variable ("asyncio" or "go";
    // empty counts as not set) decides, else asyncio at one thread and Go
    // above.
    scheduling_model model = scheduling_model::automatic;
    // The loops' I/O backend (io_backend.hpp): epoll, uring, or auto (the
    // probe). automatic: the WEFT_IO environment variable decides, else
    // epoll.
    io_backend io = io_backend::automatic;
    // asyncio's debug mode: slow steps are reported, with the task's name.
    bool debug = false;
    // Go mode: a worker stuck in one task step (a blocking call) for longer
    // than this has its loop handed to another thread. Zero turns it off.
    std::chrono::nanoseconds blocking_threshold = std::chrono::milliseconds(10);
    // Go mode: threads beyond the workers, blocked or spare, at most.
    unsigned max_blocking_threads = 512;
    // How long the final cancellation may take: once the main task is done,
    // the tasks still pending are cancelled and their cleanup runs until
    // this has passed; then those still alive are named on stderr (a task
    // dump) and destroyed with the loop. Zero (the default) waits as long
    // as they take, as asyncio.run does. weft::runtime takes it as the
    // default of shutdown() (see runtime.hpp).
    std::chrono::nanoseconds shutdown_timeout{0};
};

// The thread count `options` asks for, after WEFT_THREADS; raises
// configuration_error naming the source (run_options::threads or
// WEFT_THREADS) and the bad value.
int resolve_threads(const run_options& options);
// The model `options` ask for at `threads` (resolve_threads), after
// WEFT_MODEL: never automatic. Raises configuration_error for asyncio's
// model at more than one thread, or a bad WEFT_MODEL.
scheduling_model resolve_model(const run_options& options, int threads);

class runner {
public:
    // Checks `options` (and WEFT_THREADS) before it starts anything: a bad
    // value raises configuration_error. If nothing catches it, the program
    // ends with that one line on stderr and exit status 1, as Python does on
    // an uncaught exception, not with std::terminate's abort.
    explicit runner(run_options options = {});
    ~runner();
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;

    // Runs `main` until it completes; returns its result or rethrows.
    //
    // Like asyncio.Runner, when called on the main thread with SIGINT at its
    // default disposition it handles SIGINT for the duration: the first one
    // cancels `main` (which runs its cleanup), after which run raises
    // keyboard_interrupt; a second one ends the process at once.
    template <class T>
    T run(task<T> main) {
        prepare_run();
        task_handle<T> h = get_loop().create_task(std::move(main));
        bool interrupted = run_main(h);
        if (interrupted && h.cancelled() && h.uncancel() == 0) throw keyboard_interrupt();
        if constexpr (std::is_void_v<T> || std::is_reference_v<T>) {
            return h.result();
        } else {
            return std::move(h.result());
        }
    }

    // Cancels the tasks that are still pending, runs until their cleanup is
    // done, and closes the loop(s). Called by the destructor. With
    // WEFT_STATS=1 in the environment, Go mode prints its metrics here.
    void close();

    // The loop (single-thread mode) or the first worker's loop (Go mode),
    // for settings such as the exception handler, shared by all workers.
    event_loop& get_loop() { return rt_ ? rt_->main_loop() : *loop_; }
    int threads() const noexcept { return threads_; }
    // asyncio or go (never automatic).
    scheduling_model model() const noexcept {
        return rt_ ? scheduling_model::go : scheduling_model::asyncio;
    }
    // Go mode's per-worker metrics, readable while it runs; empty otherwise.
    std::vector<worker_stats> stats() const;

private:
    void prepare_run();
    // Runs until `main` is done; true if SIGINT cancelled it meanwhile.
    bool run_main(task_ref main);
    void cancel_all_tasks();

    std::unique_ptr<event_loop> loop_;
    std::unique_ptr<detail::runtime_core> rt_;
    std::chrono::nanoseconds shutdown_timeout_{0};
    int threads_ = 1;
    bool closed_ = false;
};

// From a task: the per-worker metrics of the Go-mode runtime running it
// (steals, parks, hand-offs...); empty in single-thread mode.
std::vector<worker_stats> runtime_stats();

// Ends the process the way Python does after an uncaught KeyboardInterrupt:
// a message on stderr, then death by SIGINT (exit status 130).
[[noreturn]] void exit_like_keyboard_interrupt();

// asyncio.run: a runner for one task. Ctrl-C cancels the task, lets its
// cleanup run, then ends the process like Python's KeyboardInterrupt. A bad
// thread count (run_options::threads, WEFT_THREADS) raises
// configuration_error before anything starts; uncaught, it ends the program
// with one line on stderr and exit status 1 (see runner::runner).
template <class T>
T run(task<T> main, run_options options = {}) {
    try {
        runner r(options);
        if constexpr (std::is_void_v<T>) {
            r.run(std::move(main));
            r.close();
        } else {
            T result = r.run(std::move(main));
            r.close();
            return result;
        }
    } catch (const keyboard_interrupt&) {
        exit_like_keyboard_interrupt();
    }
}

}  // namespace weft
