// executor_rtt: from a task, K sequential round trips to the default thread
// pool running a trivial function (SPEC: us/rtt = wall / K), as asyncio's
// `await loop.run_in_executor(None, trivial)` and Tokio's spawn_blocking.
//
// process_rtt (not in SPEC; weft's process pool against Python's
// ProcessPoolExecutor, bench/process_pool_rtt.py): the same round trip to a
// process pool, whose worker is another process.
#include <atomic>
#include <string>

#include <weft/executors.hpp>
#include <weft/task.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

std::atomic<long> calls{0};

long trivial() {
    // Relaxed: a count read after the round trips, which order it.
    calls.fetch_add(1, std::memory_order_relaxed);
    return 1;
}

long plus_one(long x) {
    return x + 1;
}

}  // namespace

weft::task<report> run_executor_rtt(sizes s) {
    const long k = pick(s.n, 100'000);
    co_await weft::to_thread(trivial);  // start the default pool
    calls.store(0, std::memory_order_relaxed);
    long sum = 0;
    auto t0 = bench_clock::now();
    for (long i = 0; i < k; ++i)
        sum += co_await weft::to_thread(trivial);
    double wall = seconds_since(t0);
    long n = calls.load(std::memory_order_relaxed);
    check(sum == k && n == k, "executor_rtt: " + std::to_string(sum) + "/" + std::to_string(n) +
                                  " calls, want " + std::to_string(k));
    co_return report{std::to_string(k), {{wall * 1e6 / static_cast<double>(k), "us/rtt"}}};
}

weft::task<report> run_process_rtt(sizes s) {
    const long k = pick(s.n, 20'000);
    weft::process_pool_executor pool;  // Python's default size: one worker per core
    co_await weft::run_in_executor(pool, plus_one, 0L);  // start a worker
    long sum = 0;
    auto t0 = bench_clock::now();
    for (long i = 0; i < k; ++i)
        sum += co_await weft::run_in_executor(pool, plus_one, i);
    double wall = seconds_since(t0);
    check(sum == k * (k + 1) / 2,
          "process_rtt: sum " + std::to_string(sum) + ", want " + std::to_string(k * (k + 1) / 2));
    co_return report{std::to_string(k), {{wall * 1e6 / static_cast<double>(k), "us/rtt"}}};
}

}  // namespace weft_bench
