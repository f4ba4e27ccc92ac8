// Support for weft's Google Benchmark suites: a benchmark body that awaits is
// a coroutine taking the benchmark::State, run as the main task of a fresh
// asyncio-mode runtime, with the `for (auto _ : state)` loop inside it.
#pragma once

#include <benchmark/benchmark.h>

#include <weft/run.hpp>
#include <weft/task.hpp>

namespace weft_micro {

// Runs `body(state)` on a single-thread weft runtime.
inline void run_on_weft(benchmark::State& state, weft::task<void> (*body)(benchmark::State&)) {
    weft::run(body(state), {.threads = 1});
}

}  // namespace weft_micro
