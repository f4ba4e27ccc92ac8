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
#include <weft/executors/detail/remote_call.hpp>
#include <weft/executors/errors.hpp>
#include <weft/executors/executor_future.hpp>
#include <weft/executors/map_result.hpp>
#include <weft/executors/remote_function.hpp>

namespace weft {

// submit, map and submit_with (for run_in_executor) come from
// detail::remote_submitter (detail/remote_call.hpp), shared by the executors
// of remote calls.
class process_pool_executor : public detail::remote_submitter<process_pool_executor> {
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

private:
    friend class detail::remote_submitter<process_pool_executor>;

    // Takes the pool's reference to `call` (releasing it if it raises).
    void enqueue(detail::remote_call* call);

    std::shared_ptr<detail::process_pool_state> state_;
};

}  // namespace weft
