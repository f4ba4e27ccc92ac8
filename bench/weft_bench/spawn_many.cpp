// spawn_many: inside one task, spawn N tiny tasks that each bump a counter,
// then await them all (SPEC: ns/task = wall / N).
#include <atomic>
#include <string>
#include <vector>

#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

// Atomic because in Go mode the tasks run on several workers.
weft::task<void> bump(std::atomic<long>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
    co_return;
}

}  // namespace

weft::task<report> run_spawn_many(sizes s) {
    const long n = pick(s.n, 1'000'000);
    std::atomic<long> counter{0};
    auto t0 = bench_clock::now();
    std::vector<weft::task_handle<void>> handles;
    handles.reserve(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i)
        handles.push_back(weft::create_task(bump(counter)));
    for (auto& h : handles)
        co_await h;
    double wall = seconds_since(t0);
    long got = counter.load(std::memory_order_relaxed);
    check(got == n, "spawn_many: counter=" + std::to_string(got) + " want " + std::to_string(n));
    co_return report{std::to_string(n), {{wall * 1e9 / static_cast<double>(n), "ns/task"}}};
}

}  // namespace weft_bench
