// idle_memory: N tasks each await one shared event (a weft::future<void>);
// SPEC: RSS growth / N once all have started, then set the event and join.
//
// As in the Tokio peer, completion is counted (the last task to finish
// completes `all_done`) instead of keeping N handles, so that a vector of
// handles is not billed to the tasks. The ready queue that starts them is.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include <weft/future.hpp>
#include <weft/sleep.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

struct shared_event {
    explicit shared_event(long count) : n(count) {}
    const long n;
    weft::future<void> event;     // what every task awaits
    weft::future<void> all_done;  // set by the last task to finish
    // Atomic because in Go mode the tasks run on several workers.
    std::atomic<long> started{0};
    std::atomic<long> finished{0};
};

weft::task<void> idle_waiter(shared_event& sh) {
    sh.started.fetch_add(1, std::memory_order_relaxed);
    co_await sh.event;
    // acq_rel: the last one to finish sees every other task's increment.
    if (sh.finished.fetch_add(1, std::memory_order_acq_rel) + 1 == sh.n) sh.all_done.set_result();
}

}  // namespace

weft::task<report> run_idle_memory(sizes s) {
    shared_event sh(pick(s.n, 1'000'000));
    const std::int64_t before = resident_bytes();
    for (long i = 0; i < sh.n; ++i)
        weft::create_task(idle_waiter(sh));
    // Let them all reach their co_await (one loop iteration in asyncio mode),
    // giving up after a minute: a task that never starts is a wrong result.
    for (int waited_ms = 0; sh.started.load(std::memory_order_relaxed) != sh.n; ++waited_ms) {
        check(waited_ms < 60'000, "idle_memory: only " + std::to_string(sh.started.load()) +
                                      " of " + std::to_string(sh.n) + " tasks started in 60 s");
        co_await weft::sleep(std::chrono::milliseconds(1));
    }
    const std::int64_t after = resident_bytes();
    sh.event.set_result();
    co_await sh.all_done;
    long finished = sh.finished.load(std::memory_order_relaxed);
    check(finished == sh.n,
          "idle_memory: finished=" + std::to_string(finished) + " want " + std::to_string(sh.n));
    co_return report{
        std::to_string(sh.n),
        {{static_cast<double>(after - before) / static_cast<double>(sh.n), "bytes/task"}}};
}

}  // namespace weft_bench
