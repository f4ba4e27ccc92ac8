// The registry of SPEC workloads and the helpers they share.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include <unistd.h>

#include "workload.hpp"

namespace weft_bench {

weft::task<report> run_idle_memory(sizes s);
weft::task<report> run_spawn_many(sizes s);
weft::task<report> run_fib(sizes s);
weft::task<report> run_skynet(sizes s);
weft::task<report> run_yield_many(sizes s);
weft::task<report> run_ping_pong(sizes s);
weft::task<report> run_timers(sizes s);
weft::task<report> run_executor_rtt(sizes s);
weft::task<report> run_process_rtt(sizes s);
weft::task<report> run_submit_rtt(sizes s);
weft::task<report> run_echo(sizes s);
weft::task<report> run_memory_release(sizes s);
weft::task<report> run_file_read(sizes s);
weft::task<report> run_stream_bulk(sizes s);
std::string validate_fib(const sizes& s);
std::string validate_skynet(const sizes& s);

namespace {

// idle_memory runs first: it measures RSS growth, which memory that earlier
// workloads freed (and the frame pool kept for reuse) would hide. The Go and
// Tokio peers use the same order.
const workload registry[] = {
    {.name = "idle_memory",
     .summary = "N tasks each await one shared event; RSS growth per task",
     .default_n = 1'000'000,
     .default_m = 0,
     .run = &run_idle_memory},
    {.name = "spawn_many",
     .summary = "one task spawns N tiny tasks (each bumps a counter) and awaits them all",
     .default_n = 1'000'000,
     .default_m = 0,
     .run = &run_spawn_many},
    {.name = "fib",
     .summary = "fork-join fib(n): spawn fib(n-1), await fib(n-2) inline, join",
     .default_n = 30,
     .default_m = 0,
     .run = &run_fib,
     .validate = &validate_fib},
    {.name = "skynet",
     .summary = "10-ary tree of tasks, 1,000,000 leaves return their index; sum checked",
     .default_n = 1'000'000,
     .default_m = 0,
     .run = &run_skynet,
     .validate = &validate_skynet},
    {.name = "yield_many",
     .summary = "T tasks each yield M times (weft::yield_now, asyncio's sleep(0))",
     .default_n = 1000,
     .default_m = 1000,
     .run = &run_yield_many},
    {.name = "ping_pong",
     .summary = "P pairs of tasks, M round trips each over two single-slot queues",
     .default_n = 1000,
     .default_m = 1000,
     .run = &run_ping_pong},
    {.name = "timers",
     .summary = "N tasks each sleep a pseudo-random delay in [0, 1000) ms; overhead",
     .default_n = 100'000,
     .default_m = 0,
     .run = &run_timers},
    {.name = "executor_rtt",
     .summary = "K sequential round trips from a task to a thread pool (trivial function)",
     .default_n = 100'000,
     .default_m = 0,
     .run = &run_executor_rtt},
    {.name = "submit_rtt",
     .summary = "K sequential round trips from a foreign thread to a background runtime",
     .default_n = 100'000,
     .default_m = 0,
     .run = &run_submit_rtt},
    // Not a SPEC workload (so not in `all`): weft's process pool against
    // Python's ProcessPoolExecutor (bench/process_pool_rtt.py).
    {.name = "process_rtt",
     .summary = "K sequential round trips from a task to a process pool (trivial function)",
     .default_n = 20'000,
     .default_m = 0,
     .run = &run_process_rtt,
     .in_all = false},
    // Not a SPEC workload (so not in `all`, whose later workloads it would
    // disturb): RSS before, at and after a burst of N idle tasks, once the
    // runtime has been idle and after weft::trim().
    {.name = "memory_release",
     .summary = "N idle tasks, released: RSS at start, peak, after going idle, after trim",
     .default_n = 1'000'000,
     .default_m = 0,
     .run = &run_memory_release,
     .in_all = false},
    // Not a SPEC workload (no peer has asynchronous files): weft::file on
    // io_uring against the blocking threads (run with --io uring / epoll).
    {.name = "file_read",
     .summary = "N random 4 KiB preads of a 256 MiB file, M in flight (weft::file)",
     .default_n = 100'000,
     .default_m = 64,
     .run = &run_file_read,
     .in_all = false},
    // Not a SPEC workload: a bulk transfer through a stream, to compare the
    // backends (run with --io uring / epoll).
    {.name = "stream_bulk",
     .summary = "N MiB one way through a stream over a socket pair, M KiB writes",
     .default_n = 1000,
     .default_m = 256,
     .run = &run_stream_bulk,
     .in_all = false},
    {.name = "echo",
     .summary = "TCP echo server on 127.0.0.1, driven by peers/loadgen/echo_client",
     .default_n = 0,
     .default_m = 0,
     .run = &run_echo,
     .in_all = false},
};

}  // namespace

std::span<const workload> workloads() {
    return registry;
}

const workload* find_workload(std::string_view name) {
    for (const workload& w : registry)
        if (w.name == name) return &w;
    return nullptr;
}

std::int64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0, resident = 0;
    if (!(statm >> size >> resident)) throw std::runtime_error("cannot read /proc/self/statm");
    return resident * static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
}

std::int64_t anonymous_bytes() {
    // statm's third field counts resident pages backed by a file (code and
    // read-only data of the binary and its libraries): what is left is the
    // process's own memory.
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0, resident = 0, file_backed = 0;
    if (!(statm >> size >> resident >> file_backed))
        throw std::runtime_error("cannot read /proc/self/statm");
    return (resident - file_backed) * static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
}

std::vector<int> lcg_delays_ms(long n) {
    std::vector<int> out(static_cast<std::size_t>(n));
    std::uint64_t x = 42;
    for (int& d : out) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        d = static_cast<int>((x >> 33) % 1000);
    }
    return out;
}

}  // namespace weft_bench
