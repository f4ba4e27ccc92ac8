// timers: N tasks each sleep a pseudo-random delay in [0, 1000) ms (SPEC's
// LCG, seed 42). Reports the overhead, wall - max delay, in ms, and the mean
// lateness of a wake-up (slept - asked), in ms.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <weft/sleep.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

// Returns how late the wake-up was, in nanoseconds.
weft::task<std::int64_t> sleeper(int delay_ms) {
    const std::chrono::milliseconds d(delay_ms);
    auto t0 = bench_clock::now();
    co_await weft::sleep(d);
    co_return std::chrono::duration_cast<std::chrono::nanoseconds>(bench_clock::now() - t0 - d)
        .count();
}

}  // namespace

weft::task<report> run_timers(sizes s) {
    const long n = pick(s.n, 100'000);
    std::vector<int> delays = lcg_delays_ms(n);
    const int max_delay = *std::max_element(delays.begin(), delays.end());
    auto t0 = bench_clock::now();
    std::vector<weft::task_handle<std::int64_t>> handles;
    handles.reserve(delays.size());
    for (int d : delays)
        handles.push_back(weft::create_task(sleeper(d)));
    std::int64_t late_ns = 0;
    long done = 0;
    for (auto& h : handles) {
        std::int64_t late = co_await h;
        check(late >= 0, "timers: a sleep of " + std::to_string(delays[done]) + " ms woke " +
                             std::to_string(-late) + " ns early");
        late_ns += late;
        ++done;
    }
    double wall = seconds_since(t0);
    check(done == n, "timers: done=" + std::to_string(done) + " want " + std::to_string(n));
    co_return report{
        std::to_string(n),
        {{wall * 1e3 - max_delay, "ms"},
         {static_cast<double>(late_ns) / static_cast<double>(n) / 1e6, "ms_mean_lateness"}}};
}

}  // namespace weft_bench
