// Synchronization primitives and queues: the uncontended lock and semaphore,
// the event's set/wait, queue throughput (one producer and one consumer, four
// of each) and a ping-pong over two queues of size 1. Asyncio mode unless an
// argument says `threads`.
#include <cstdint>
#include <vector>

#include <weft/event.hpp>
#include <weft/lock.hpp>
#include <weft/queue.hpp>
#include <weft/run.hpp>
#include <weft/semaphore.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "micro.hpp"

namespace {

using weft_micro::run_on_weft;

// ---- uncontended: no other task ever holds or waits

// co_await acquire() of a free lock, then release(): one CAS each.
weft::task<void> lock_body(benchmark::State& state) {
    weft::lock l;
    for (auto _ : state) {
        co_await l.acquire();
        l.release();
    }
}
void BM_lock_uncontended(benchmark::State& state) {
    run_on_weft(state, &lock_body);
}
BENCHMARK(BM_lock_uncontended);

// The same through the scoped guard.
weft::task<void> lock_scoped_body(benchmark::State& state) {
    weft::lock l;
    for (auto _ : state) {
        auto held = co_await l.scoped();
        benchmark::DoNotOptimize(held);
    }
}
void BM_lock_scoped_uncontended(benchmark::State& state) {
    run_on_weft(state, &lock_scoped_body);
}
BENCHMARK(BM_lock_scoped_uncontended);

weft::task<void> semaphore_body(benchmark::State& state) {
    weft::semaphore s(4);
    for (auto _ : state) {
        co_await s.acquire();
        s.release();
    }
}
void BM_semaphore_uncontended(benchmark::State& state) {
    run_on_weft(state, &semaphore_body);
}
BENCHMARK(BM_semaphore_uncontended);

// set(), then wait() on the set event (no suspension), then clear().
weft::task<void> event_body(benchmark::State& state) {
    weft::event ev;
    for (auto _ : state) {
        ev.set();
        co_await ev.wait();
        ev.clear();
    }
}
void BM_event_set_wait(benchmark::State& state) {
    run_on_weft(state, &event_body);
}
BENCHMARK(BM_event_set_wait);

// ---- round trips between two tasks

// Two tasks hand control back and forth through two events: each iteration
// is one round trip (two suspensions, two wake-ups).
weft::task<void> event_partner(weft::event* go, weft::event* back, const bool* stop) {
    for (;;) {
        co_await go->wait();
        go->clear();
        if (*stop) co_return;
        back->set();
    }
}
weft::task<void> event_round_trip_body(benchmark::State& state) {
    weft::event go, back;
    bool stop = false;
    auto partner = weft::create_task(event_partner(&go, &back, &stop));
    for (auto _ : state) {
        go.set();
        co_await back.wait();
        back.clear();
    }
    stop = true;
    go.set();
    co_await partner;
}
void BM_event_round_trip(benchmark::State& state) {
    run_on_weft(state, &event_round_trip_body);
}
BENCHMARK(BM_event_round_trip);

// Ping-pong over two queues of maxsize 1 (the SPEC ping_pong of one pair).
weft::task<void> ponger(weft::queue<std::int64_t>* ping, weft::queue<std::int64_t>* pong) {
    for (;;) {
        std::int64_t v = co_await ping->get();
        if (v < 0) co_return;
        co_await pong->put(v + 1);
    }
}
weft::task<void> queue_ping_pong_body(benchmark::State& state) {
    weft::queue<std::int64_t> ping(1), pong(1);
    auto partner = weft::create_task(ponger(&ping, &pong));
    std::int64_t j = 0, sum = 0;
    for (auto _ : state) {
        co_await ping.put(j);
        sum += co_await pong.get() - j++;
    }
    co_await ping.put(-1);
    co_await partner;
    if (sum != j) state.SkipWithError("wrong answers");
}
void BM_queue_ping_pong(benchmark::State& state) {
    run_on_weft(state, &queue_ping_pong_body);
}
BENCHMARK(BM_queue_ping_pong);

// ---- throughput: P producers and P consumers move a batch of items through
// one queue; reported per item. Arguments: P, maxsize (0: unbounded), threads.

constexpr std::int64_t batch = 100'000;

weft::task<void> produce(weft::queue<std::int64_t>* q, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i)
        co_await q->put(i);
}
weft::task<std::int64_t> consume(weft::queue<std::int64_t>* q, std::int64_t n) {
    std::int64_t sum = 0;
    for (std::int64_t i = 0; i < n; ++i)
        sum += co_await q->get();
    co_return sum;
}

weft::task<void> throughput_body(benchmark::State& state, int pairs, std::size_t maxsize) {
    weft::queue<std::int64_t> q(maxsize);
    const std::int64_t each = batch / pairs;
    std::int64_t total = 0;
    for (auto _ : state) {
        std::vector<weft::task_handle<void>> ps;
        std::vector<weft::task_handle<std::int64_t>> cs;
        for (int i = 0; i < pairs; ++i) {
            cs.push_back(weft::create_task(consume(&q, each)));
            ps.push_back(weft::create_task(produce(&q, each)));
        }
        for (auto& p : ps)
            co_await p;
        for (auto& c : cs)
            total += co_await c;
    }
    if (total != state.iterations() * pairs * (each * (each - 1) / 2))
        state.SkipWithError("items went missing");
    state.SetItemsProcessed(state.iterations() * pairs * each);
}
void BM_queue_throughput(benchmark::State& state) {
    const auto pairs = static_cast<int>(state.range(0));
    const auto maxsize = static_cast<std::size_t>(state.range(1));
    weft::run(throughput_body(state, pairs, maxsize),
              {.threads = static_cast<int>(state.range(2))});
}
BENCHMARK(BM_queue_throughput)
    ->ArgNames({"pairs", "maxsize", "threads"})
    ->Args({1, 0, 1})
    ->Args({1, 64, 1})
    ->Args({4, 0, 1})
    ->Args({4, 64, 1})
    ->Args({1, 64, 2})
    ->Args({4, 64, 2})
    ->Unit(benchmark::kMillisecond);

}  // namespace
