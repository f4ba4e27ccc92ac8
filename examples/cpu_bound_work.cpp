// CPU-bound work kept off the event loop: counting the primes below a few
// million, in chunks, on the default thread pool, on a thread pool of our own
// and on a process pool, while a ticker task prints a tick every 0.1 s and
// checks that each comes on time. The loop stays responsive because the
// counting never runs on it.
//
// Run it with --on-loop to see the alternative: the same counting called
// directly in the task blocks the loop, and the ticks come late.
#include <cstdio>
#include <string>
#include <vector>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

// Primes in [lo, hi) by trial division: deliberately plain CPU work.
long count_primes(long lo, long hi) {
    long n = 0;
    for (long x = lo < 2 ? 2 : lo; x < hi; ++x) {
        bool prime = x == 2 || x % 2 != 0;
        for (long d = 3; prime && d * d <= x; d += 2)
            prime = x % d != 0;
        n += prime;
    }
    return n;
}

constexpr long limit = 6'000'000;
constexpr int chunks = 12;
constexpr int ticks = 5;
constexpr double period = 0.1;   // seconds between ticks
constexpr double on_time = 0.1;  // a tick later than this after its time is late

// Prints `ticks` ticks, `period` apart from `start` (loop time), each saying
// whether it came on time.
weft::task<void> ticker(double start) {
    weft::event_loop& loop = weft::get_running_loop();
    for (int i = 1; i <= ticks; ++i) {
        double due = start + i * period;
        co_await weft::sleep(due - loop.time());
        double late = loop.time() - due;
        std::printf("  tick %d %s\n", i, late < on_time ? "on time" : "LATE");
    }
}

// Splits [0, limit) into chunks, counts each in `pool`, adds them up.
template <class Pool>
weft::task<long> count_in(Pool& pool) {
    std::vector<long> los, his;
    for (int i = 0; i < chunks; ++i) {
        los.push_back(limit * i / chunks);
        his.push_back(limit * (i + 1) / chunks);
    }
    long total = 0;
    for (long n : co_await pool.map(count_primes, los, his))
        total += n;
    co_return total;
}

weft::task<long> count_on_the_loop() {
    co_return count_primes(0, limit);  // blocks the loop until done
}

weft::task<void> main_task(weft::process_pool_executor& processes, bool on_loop) {
    auto show = [](const char* where, long primes) {
        std::printf("%s: %ld primes below %ld\n", where, primes, limit);
    };
    weft::event_loop& loop = weft::get_running_loop();
    if (on_loop) {
        std::printf("on the loop itself:\n");
        [[maybe_unused]] auto [primes, done] =
            co_await weft::gather(count_on_the_loop(), ticker(loop.time()));
        show("on the loop itself", primes);
        co_return;
    }

    // Each count runs beside the ticker; gather waits for both.
    std::printf("default thread pool:\n");
    [[maybe_unused]] auto [a, t1] =
        co_await weft::gather(count_in(weft::default_executor()), ticker(loop.time()));
    show("default thread pool", a);

    std::printf("thread pool of 2:\n");
    weft::thread_pool_executor threads(2);
    [[maybe_unused]] auto [b, t2] = co_await weft::gather(count_in(threads), ticker(loop.time()));
    show("thread pool of 2", b);

    std::printf("process pool of 2:\n");
    [[maybe_unused]] auto [c, t3] = co_await weft::gather(count_in(processes), ticker(loop.time()));
    show("process pool of 2", c);
}

int main(int argc, char** argv) {
    CLI::App app{"CPU-bound work in thread and process pools while a ticker keeps time"};
    int threads = 1;
    bool on_loop = false;
    weft::cli::add_threads(app, threads);
    app.add_flag("--on-loop", on_loop, "count on the event loop itself (the ticker stalls)");
    weft::cli::parse(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    // A pool that cannot start (fork or pipe refused) or a worker that dies:
    // one line naming it, exit status 1.
    try {
        // Before weft::run starts threads: workers fork from a clean copy.
        weft::process_pool_executor processes(2);
        weft::run(main_task(processes, on_loop), {.threads = threads});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "cpu_bound_work: %s\n", e.what());
        return 1;
    }
}
