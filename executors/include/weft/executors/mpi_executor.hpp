// weft::mpi_executor: run_in_executor across the ranks of an MPI job, with
// the process pool's API, so that a program moves from one machine to many by
// changing its executor and its launcher, not its code.
//
//     long count_primes(long lo, long hi);              // a plain function
//
//     int main(int argc, char** argv) {
//         // Every rank: start MPI. Ranks other than 0 serve calls until
//         // rank 0 ends, then leave.
//         if (weft::mpi_init(argc, argv).rank != 0) return weft::mpi_serve({.threads = 2});
//         weft::mpi_executor cluster;                     // rank 0 runs the program
//         weft::run(main_task(cluster));
//     }
//     ...
//     long n = co_await weft::run_in_executor(cluster, count_primes, 0L, 1'000'000L);
//
// `mpirun -np 3 prog` starts three copies of the same binary: rank 0 runs the
// program, ranks 1 and 2 run its calls. Without mpirun (or with -np 1) there
// is no serving rank and the calls run in this process, on the running loop's
// default thread pool: the same binary works on a laptop.
//
// Functions are what a process pool takes (remote_function.hpp): a plain
// function or a captureless lambda (found in the other rank's copy of the
// program by its place in its module, so every rank must run the same build;
// each serving rank's build is checked when it says hello), or a registered
// name. Arguments and results travel as bytes (codec.hpp), sent as they were
// encoded: MPI reads the encoded arguments where they lie, without a copy.
//
// Dispatch: each call goes to the serving rank with the lowest share of its
// capacity in use, and no rank has more calls than its capacity
// (mpi_serve_options::max_in_flight) sent to it at once; the rest wait here.
// Results come back through a progress thread, which completes the futures;
// the awaiting task is woken through its loop. Under MPI_THREAD_MULTIPLE a
// call is sent by the submitting thread itself; below it the progress thread
// alone calls MPI on rank 0 (so MPI must grant at least
// MPI_THREAD_SERIALIZED, and the program must not call MPI itself while an
// executor runs).
//
// Cancelling a call (the awaiting task, the future, a wait_for deadline): the
// future is cancelled at once; a call that has not started on its rank is
// dropped there and never runs; one already running runs to its end on its
// rank and its result is dropped (a rank's thread cannot be stopped from
// outside, unlike a worker process). call_options{.timeout = s} counts from
// when the call is sent to a rank, and fails it with timeout_error.
//
// A remote exception arrives as its own type when this process knows it
// (register_remote_exception), else as remote_error with its type and
// message. A function unknown to this process is refused at submit, before
// anything is sent.
//
// A rank that dies: Open MPI 4.1 ends the whole job (mpirun kills every rank
// and exits with an error), which is MPI's default and the only behaviour it
// offers reliably without fault-tolerance extensions. There is no "rank died"
// error for a single call, as there is worker_died_error in a process pool.
//
// Built only when CMake finds MPI (target weft::mpi_executor, header
// <weft/executors/mpi_executor.hpp>); docs/scale-out.md.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <weft/executors/call_options.hpp>
#include <weft/executors/detail/remote_call.hpp>
#include <weft/executors/map_result.hpp>
#include <weft/executors/mpi_world.hpp>

namespace weft {

namespace detail {
struct mpi_executor_state;
}

struct mpi_serve_options {
    // Calls this rank runs at once, each on a thread of its own; 0: one per
    // core of this machine.
    int threads = 0;
    // Calls rank 0 may have sent to this rank at once (running or waiting
    // here for a thread); 0: twice `threads`, so that a thread finishing a
    // call finds the next one already here.
    int max_in_flight = 0;
};

// On a serving rank (rank > 0): says hello to rank 0, then runs the calls
// rank 0 sends, `threads` at a time, until rank 0 ends MPI (mpi_finalize, or
// the end of its program); returns 0 then, for main to return. Raises
// std::logic_error before mpi_init or on rank 0, std::invalid_argument for a
// negative option.
int mpi_serve(mpi_serve_options options = {});

// submit, map and submit_with (for run_in_executor) come from
// detail::remote_submitter (detail/remote_call.hpp), shared by the executors
// of remote calls.
class mpi_executor : public detail::remote_submitter<mpi_executor> {
public:
    // On rank 0, after mpi_init. Raises std::logic_error on a serving rank or
    // before mpi_init, and std::runtime_error when the job has serving ranks
    // but MPI granted less than MPI_THREAD_SERIALIZED.
    mpi_executor();
    // shutdown(wait=true), unless shutdown(wait=false) was called.
    ~mpi_executor();
    mpi_executor(const mpi_executor&) = delete;
    mpi_executor& operator=(const mpi_executor&) = delete;

    // Python's shutdown(wait, cancel_futures): no more submissions; with
    // cancel_futures the calls not sent to a rank yet are cancelled; with
    // wait, returns once every call of this executor has come back (called
    // from a task it blocks that loop meanwhile, as in Python). The serving
    // ranks keep serving other executors until rank 0 ends MPI.
    void shutdown(bool wait = true, bool cancel_futures = false);

    bool is_shutdown() const noexcept;
    // How many ranks serve calls (0 when run alone: calls run in-process).
    int serving_ranks() const noexcept;

private:
    friend class detail::remote_submitter<mpi_executor>;

    // Takes the executor's reference to `call` (releasing it if it raises).
    void enqueue(detail::remote_call* call);

    std::shared_ptr<detail::mpi_executor_state> state_;
};

}  // namespace weft
