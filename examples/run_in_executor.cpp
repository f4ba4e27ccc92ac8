// Blocking work handed to executors so that the event loop never waits on it:
// a `sleep_it` function that blocks for a second runs in the default thread
// pool, in a thread pool of our own, and in a process pool. The C++ twin of
// the run_in_executor program of the asyncio tutorials, whose "process pool"
// case made a ThreadPoolExecutor by mistake: here it is a real process pool,
// and sleep_it says which process it ran in.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <unistd.h>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

// A plain blocking function, as a library without coroutines would offer.
// It runs in the pool's threads, or in a worker process (which is a fork of
// this program, so a plain function is all it takes to name the work).
std::string sleep_it(int caller_pid) {
    bool same = ::getpid() == caller_pid;
    std::printf("sleep 1s (%s)\n", same ? "in this process" : "in a worker process");
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return "sleep 1";
}

weft::task<void> main_task(weft::process_pool_executor& processes) {
    int me = ::getpid();

    // loop.run_in_executor(None, sleep_it): the default thread pool.
    weft::executor_future<std::string> fut = weft::run_in_executor(nullptr, sleep_it, me);
    std::string result = co_await fut;
    std::printf("default thread pool %s\n", result.c_str());

    // with ThreadPoolExecutor() as pool: a pool of our own, shut down (after
    // waiting for its work) when the block ends.
    {
        weft::thread_pool_executor pool;
        result = co_await weft::run_in_executor(pool, sleep_it, me);
        std::printf("custom thread pool %s\n", result.c_str());
    }

    // A process pool, made in main() (see there).
    result = co_await weft::run_in_executor(processes, sleep_it, me);
    std::printf("custom process pool %s\n", result.c_str());
}

int main(int argc, char** argv) {
    CLI::App app{"run_in_executor: a blocking function in a thread pool and a process pool"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);

    // Worker processes write to the same stdout: line buffering keeps each
    // process's lines in the order they were printed.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    // A pool that cannot start (fork or pipe refused) or a worker that dies:
    // one line naming it, exit status 1.
    try {
        // Made first thing, before weft::run starts any thread: the pool's fork
        // server is a copy of the program as it is now, and every worker process
        // is forked from that clean, single-threaded copy.
        weft::process_pool_executor processes(2);
        weft::run(main_task(processes), {.threads = threads});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "run_in_executor: %s\n", e.what());
        return 1;
    }
}
