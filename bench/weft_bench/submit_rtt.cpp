// submit_rtt: a thread that weft does not own hands a trivial task to a
// runtime running in the background and waits for its result, K times in a
// row (value = wall / K, in microseconds): the cost of weft::runtime's
// cross-thread submit, wake-up and blocking wait, as Tokio's
// Handle::spawn + a blocking wait and asyncio's run_coroutine_threadsafe +
// future.result() measure it. The background runtime has --threads workers,
// and weft-bench's model (--model go at one thread: one Go worker).
#include <algorithm>
#include <string>
#include <thread>

#include <weft/run.hpp>
#include <weft/runtime.hpp>
#include <weft/task.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

weft::task<long> plus_one(long x) {
    co_return x + 1;
}

}  // namespace

weft::task<report> run_submit_rtt(sizes s) {
    const long k = pick(s.n, 100'000);
    // The thread count weft-bench runs at: Go mode's workers, else 1.
    weft::runtime_options options;
    const std::size_t workers = weft::runtime_stats().size();  // 0: asyncio's model
    options.threads = static_cast<int>(std::max<std::size_t>(1, workers));
    if (workers != 0) options.model = weft::scheduling_model::go;
    options.thread_name_prefix = "submit-rtt";
    weft::runtime rt(options);
    weft::runtime_handle h = rt.handle();
    long sum = 0;
    double wall = 0;
    // Measured on a plain std::thread; the task running this workload only
    // waits for it.
    std::thread caller([&] {
        sum += h.spawn(plus_one(0)).get();  // warm up: the threads are up
        sum = 0;
        auto t0 = bench_clock::now();
        for (long i = 0; i < k; ++i)
            sum += h.spawn(plus_one(i)).get();
        wall = seconds_since(t0);
    });
    caller.join();
    check(sum == k * (k + 1) / 2,
          "submit_rtt: sum " + std::to_string(sum) + ", want " + std::to_string(k * (k + 1) / 2));
    co_return report{std::to_string(k), {{wall * 1e6 / static_cast<double>(k), "us"}}};
}

}  // namespace weft_bench
