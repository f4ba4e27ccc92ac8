// memory_release (not a SPEC workload): does weft give memory back? N tasks
// each await one shared event (as idle_memory), then the event is set and
// they all finish; the runtime is then left idle until the frame pool has
// returned what it held (weft/memory.hpp), and finally weft::trim() is called.
// Reports the process's RSS at the start, at the peak (all N waiting), after
// the idle release and after the trim, in MB, and how long the release took.
// Beside RSS, the anonymous part of it (MB_anon_*): RSS also counts the code
// pages of libc and libstdc++ that the burst touched for the first time
// (malloc's slow paths, trimming), which are shared with every other process
// and which the kernel drops at will; the anonymous pages are what the
// process holds.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include <weft/future.hpp>
#include <weft/memory.hpp>
#include <weft/sleep.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

struct shared_event {
    explicit shared_event(long count) : n(count) {}
    const long n;
    weft::future<void> event;
    weft::future<void> all_done;
    std::atomic<long> started{0};
    std::atomic<long> finished{0};
};

weft::task<void> waiter(shared_event& sh) {
    sh.started.fetch_add(1, std::memory_order_relaxed);
    co_await sh.event;
    // acq_rel: the last one to finish sees every other task's increment.
    if (sh.finished.fetch_add(1, std::memory_order_acq_rel) + 1 == sh.n) sh.all_done.set_result();
}

double megabytes(std::int64_t bytes) {
    return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

}  // namespace

weft::task<report> run_memory_release(sizes s) {
    shared_event sh(pick(s.n, 1'000'000));
    const std::int64_t baseline = resident_bytes();
    const std::int64_t anon_baseline = anonymous_bytes();
    for (long i = 0; i < sh.n; ++i)
        weft::create_task(waiter(sh));
    for (int waited_ms = 0; sh.started.load(std::memory_order_relaxed) != sh.n; ++waited_ms) {
        check(waited_ms < 60'000, "memory_release: only " + std::to_string(sh.started.load()) +
                                      " of " + std::to_string(sh.n) + " tasks started in 60 s");
        co_await weft::sleep(std::chrono::milliseconds(1));
    }
    const std::int64_t peak = resident_bytes();
    sh.event.set_result();
    co_await sh.all_done;
    check(sh.finished.load() == sh.n, "memory_release: not every task finished");

    // Idle (this task sleeps, nothing else runs) until the pool holds at
    // most twice its reserve, for at most 10 s.
    const auto t0 = bench_clock::now();
    for (;;) {
        weft::frame_pool_stats st = weft::frame_pool_statistics();
        if (st.held_bytes <= 2 * st.reserve_bytes || seconds_since(t0) > 10.0) break;
        co_await weft::sleep(std::chrono::milliseconds(50));
    }
    const double release_s = seconds_since(t0);
    const std::int64_t after_idle = resident_bytes();
    const std::int64_t anon_after_idle = anonymous_bytes();
    weft::trim();
    const std::int64_t after_trim = resident_bytes();
    const std::int64_t anon_after_trim = anonymous_bytes();
    co_return report{std::to_string(sh.n),
                     {{megabytes(after_idle), "MB_rss_after_idle"},
                      {megabytes(baseline), "MB_rss_baseline"},
                      {megabytes(peak), "MB_rss_peak"},
                      {megabytes(after_trim), "MB_rss_after_trim"},
                      {megabytes(anon_baseline), "MB_anon_baseline"},
                      {megabytes(anon_after_idle), "MB_anon_after_idle"},
                      {megabytes(anon_after_trim), "MB_anon_after_trim"},
                      {release_s, "s_to_release"}}};
}

}  // namespace weft_bench
