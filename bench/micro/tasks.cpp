// Task costs: spawning and awaiting a task through the scheduler, against
// awaiting the same lazy task inline, and chains of inline awaits.
#include <cstdint>

#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "micro.hpp"

namespace {

using weft_micro::run_on_weft;

weft::task<void> empty() {
    co_return;
}

weft::task<int> answer() {
    co_return 42;
}

// create_task + co_await of an empty task: one spawn (pooled frame, ready
// queue push), the task's step, its completion waking the awaiter, and the
// awaiter's resumption: two loop iterations per round.
weft::task<void> create_task_await_body(benchmark::State& state) {
    for (auto _ : state) {
        auto h = weft::create_task(empty());
        co_await h;
    }
}
void BM_create_task_await_empty(benchmark::State& state) {
    run_on_weft(state, &create_task_await_body);
}
BENCHMARK(BM_create_task_await_empty);

// The same with a result read back through the handle.
weft::task<void> create_task_await_int_body(benchmark::State& state) {
    std::int64_t sum = 0;
    for (auto _ : state)
        sum += co_await weft::create_task(answer());
    benchmark::DoNotOptimize(sum);
}
void BM_create_task_await_int(benchmark::State& state) {
    run_on_weft(state, &create_task_await_int_body);
}
BENCHMARK(BM_create_task_await_int);

// Spawn a batch of empty tasks, then await them all: the cost per task when
// the loop runs many steps per iteration (spawn_many's shape).
weft::task<void> create_task_batch_body(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    std::vector<weft::task_handle<void>> handles;
    handles.reserve(batch);
    for (auto _ : state) {
        for (std::size_t i = 0; i < batch; ++i)
            handles.push_back(weft::create_task(empty()));
        for (auto& h : handles)
            co_await h;
        handles.clear();
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
void BM_create_task_batch(benchmark::State& state) {
    run_on_weft(state, &create_task_batch_body);
}
BENCHMARK(BM_create_task_batch)->Arg(1000);

// co_await of a lazy task, inline: frame allocation from the pool, symmetric
// transfer in and out, no scheduler.
weft::task<void> inline_await_body(benchmark::State& state) {
    std::int64_t sum = 0;
    for (auto _ : state)
        sum += co_await answer();
    benchmark::DoNotOptimize(sum);
}
void BM_inline_await(benchmark::State& state) {
    run_on_weft(state, &inline_await_body);
}
BENCHMARK(BM_inline_await);

// A chain of `depth` nested inline awaits (each level awaits the next), as
// in layered application code; reported per level. Past the bounce budget
// (thread_context.hpp) transfers bounce through the driver.
weft::task<std::int64_t> chain(std::int64_t depth) {
    if (depth == 0) co_return 0;
    co_return 1 + co_await chain(depth - 1);
}
weft::task<void> inline_chain_body(benchmark::State& state) {
    const std::int64_t depth = state.range(0);
    for (auto _ : state) {
        std::int64_t got = co_await chain(depth);
        if (got != depth) state.SkipWithError("wrong chain length");
    }
    state.SetItemsProcessed(state.iterations() * depth);
}
void BM_inline_await_chain(benchmark::State& state) {
    run_on_weft(state, &inline_chain_body);
}
BENCHMARK(BM_inline_await_chain)->Arg(10)->Arg(1000)->Arg(100000);

}  // namespace
