// One task blocks its thread for a second while another ticks every 10 ms.
//
//     blocking_demo --threads 1   asyncio's model: the ticker stops for the
//                                 whole second (max_gap_ms=1000 or so)
//     blocking_demo --threads 2   Go's model: after 10 ms the blocked
//                                 worker's loop moves to another thread and
//                                 the ticker carries on (max_gap_ms < 30)
//
// The blocking call here is deliberately a plain one (a sleep of the thread,
// standing for a slow disk read or a C library call): nothing tells weft
// about it. In Go mode the monitor notices the stuck worker; wrapping the
// call in weft::blocking would hand the loop over at once instead.
#include <chrono>
#include <cstdio>
#include <thread>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

struct demo {
    clock_type::time_point start = clock_type::now();
    double max_gap_ms = 0;
};

// Prints every 10 ms, and remembers the longest gap between two ticks.
weft::task<void> ticker(demo& d) {
    auto last = clock_type::now();
    for (int n = 1;; ++n) {
        co_await weft::sleep(10ms);
        double gap = ms_since(last);
        last = clock_type::now();
        if (gap > d.max_gap_ms) d.max_gap_ms = gap;
        std::printf("%7.1f ms  tick %3d  (%.1f ms since the last)\n", ms_since(d.start), n, gap);
    }
}

weft::task<void> blocker(demo& d) {
    co_await weft::sleep(100ms);  // let the ticker get going
    std::printf("%7.1f ms  blocker: blocking its thread for 1 s\n", ms_since(d.start));
    std::this_thread::sleep_for(1s);  // a blocking call, inside a task step
    std::printf("%7.1f ms  blocker: done\n", ms_since(d.start));
}

weft::task<void> main_task() {
    demo d;
    auto tick = weft::create_task(ticker(d), "ticker");
    co_await weft::create_task(blocker(d), "blocker");
    co_await weft::sleep(100ms);  // a few more ticks after the block
    tick.cancel();
    try {
        co_await tick;  // its last tick is in max_gap_ms before we read it
    } catch (const weft::cancelled_error&) {
    }
    std::uint64_t handoffs = 0;
    for (const weft::worker_stats& w : weft::runtime_stats())
        handoffs += w.handoffs;
    std::printf("handoffs=%llu\n", static_cast<unsigned long long>(handoffs));
    std::printf("max_gap_ms=%.0f\n", d.max_gap_ms);
}

int main(int argc, char** argv) {
    CLI::App app{"a ticker beside a task that blocks its thread: asyncio's model and Go's"};
    int threads = 2;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(), {.threads = threads});
}
