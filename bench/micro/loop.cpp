// Event-loop costs: call_soon throughput, the sleep(0) round trip, and the
// timer heap with a million timers.
#include <chrono>
#include <cstdint>
#include <vector>

#include <weft/event_loop.hpp>
#include <weft/sleep.hpp>
#include <weft/task.hpp>

#include "micro.hpp"

namespace {

using weft_micro::run_on_weft;

// call_soon: schedule a batch of callbacks, then yield once so that the loop
// runs them all in its next iteration. Reported per callback.
weft::task<void> call_soon_body(benchmark::State& state) {
    weft::event_loop& loop = weft::get_running_loop();
    const std::int64_t batch = state.range(0);
    std::int64_t calls = 0;
    for (auto _ : state) {
        for (std::int64_t i = 0; i < batch; ++i)
            loop.call_soon([&calls] { ++calls; });
        co_await weft::sleep(0);
    }
    if (calls != state.iterations() * batch) state.SkipWithError("callbacks went missing");
    state.SetItemsProcessed(calls);
}
void BM_call_soon(benchmark::State& state) {
    run_on_weft(state, &call_soon_body);
}
BENCHMARK(BM_call_soon)->Arg(1000);

// sleep(0) round trip of a single task: it goes to the back of the ready
// queue and the next iteration resumes it.
weft::task<void> sleep0_body(benchmark::State& state) {
    for (auto _ : state)
        co_await weft::sleep(0);
}
void BM_sleep0_round_trip(benchmark::State& state) {
    run_on_weft(state, &sleep0_body);
}
BENCHMARK(BM_sleep0_round_trip);

// N timers (call_later, pseudo-random deadlines within 1 ms) inserted, then
// all expired by the loop; reported per timer.
weft::task<void> timers_body(benchmark::State& state) {
    weft::event_loop& loop = weft::get_running_loop();
    const auto n = static_cast<std::int64_t>(state.range(0));
    std::int64_t fired = 0;
    for (auto _ : state) {
        std::uint64_t x = 42;
        for (std::int64_t i = 0; i < n; ++i) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            loop.call_later(std::chrono::nanoseconds((x >> 33) % 1'000'000), [&fired] { ++fired; });
        }
        // Every deadline is within 1 ms of its insertion: past them all, the
        // loop has fired every timer by the time this task resumes.
        co_await weft::sleep(std::chrono::milliseconds(1));
        while (fired < n)
            co_await weft::sleep(0);
        fired = 0;
    }
    state.SetItemsProcessed(state.iterations() * n);
}
void BM_timers_insert_expire(benchmark::State& state) {
    run_on_weft(state, &timers_body);
}
BENCHMARK(BM_timers_insert_expire)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

}  // namespace
