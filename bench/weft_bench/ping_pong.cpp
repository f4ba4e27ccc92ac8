// ping_pong: P pairs of tasks, each pair does M round trips over two
// weft::queue<long>s of maxsize 1 (asyncio.Queue(maxsize=1) in the asyncio
// peer, 1-slot channels in Go and Tokio); SPEC: ns per round trip =
// wall / (P * M). The pinger sends j and the ponger answers j + 1, so each
// pinger's sum is checked against M(M+1)/2, as the Go and Tokio peers do.
#include <memory>
#include <string>
#include <vector>

#include <weft/queue.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

struct pair_queues {
    weft::queue<long> ping{1};
    weft::queue<long> pong{1};
};

weft::task<void> ponger(pair_queues* q, long m) {
    for (long j = 0; j < m; ++j) {
        long v = co_await q->ping.get();
        co_await q->pong.put(v + 1);
    }
}

weft::task<long> pinger(pair_queues* q, long m) {
    long sum = 0;
    for (long j = 0; j < m; ++j) {
        co_await q->ping.put(j);
        sum += co_await q->pong.get();
    }
    co_return sum;
}

}  // namespace

weft::task<report> run_ping_pong(sizes s) {
    const long p = pick(s.n, 1000);
    const long m = pick(s.m, 1000);
    std::vector<std::unique_ptr<pair_queues>> queues;
    queues.reserve(static_cast<std::size_t>(p));
    for (long i = 0; i < p; ++i)
        queues.push_back(std::make_unique<pair_queues>());
    auto t0 = bench_clock::now();
    std::vector<weft::task_handle<long>> pingers;
    std::vector<weft::task_handle<void>> pongers;
    pingers.reserve(static_cast<std::size_t>(p));
    pongers.reserve(static_cast<std::size_t>(p));
    for (long i = 0; i < p; ++i) {
        pongers.push_back(weft::create_task(ponger(queues[static_cast<std::size_t>(i)].get(), m)));
        pingers.push_back(weft::create_task(pinger(queues[static_cast<std::size_t>(i)].get(), m)));
    }
    long bad = 0;
    for (auto& h : pingers)
        bad += (co_await h) != m * (m + 1) / 2;
    for (auto& h : pongers)
        co_await h;
    double wall = seconds_since(t0);
    check(bad == 0, "ping_pong: " + std::to_string(bad) + " pairs with a wrong sum");
    co_return report{std::to_string(p) + "x" + std::to_string(m),
                     {{wall * 1e9 / static_cast<double>(p * m), "ns/rtt"}}};
}

}  // namespace weft_bench
