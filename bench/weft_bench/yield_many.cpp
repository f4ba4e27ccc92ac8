// yield_many: T tasks each yield M times (weft::yield_now(), asyncio's
// sleep(0)); SPEC: ns/yield = wall / (T * M).
#include <string>
#include <vector>

#include <weft/sleep.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

weft::task<long> yielder(long m) {
    long k = 0;
    for (long j = 0; j < m; ++j) {
        co_await weft::yield_now();
        ++k;
    }
    co_return k;
}

}  // namespace

weft::task<report> run_yield_many(sizes s) {
    const long t = pick(s.n, 1000);
    const long m = pick(s.m, 1000);
    auto t0 = bench_clock::now();
    std::vector<weft::task_handle<long>> handles;
    handles.reserve(static_cast<std::size_t>(t));
    for (long i = 0; i < t; ++i)
        handles.push_back(weft::create_task(yielder(m)));
    long total = 0;
    for (auto& h : handles)
        total += co_await h;
    double wall = seconds_since(t0);
    check(total == t * m,
          "yield_many: yields=" + std::to_string(total) + " want " + std::to_string(t * m));
    co_return report{std::to_string(t) + "x" + std::to_string(m),
                     {{wall * 1e9 / static_cast<double>(t * m), "ns/yield"}}};
}

}  // namespace weft_bench
