// Go mode's hand-off of a blocked worker's loop (runs under ThreadSanitizer
// in CI): a task that blocks its thread must not hold up the tasks and timers
// queued on that worker's loop; weft::blocking hands the loop over on
// purpose; every task runs exactly once whichever thread ends up driving it.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include <weft/weft.hpp>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

std::uint64_t total_handoffs() {
    std::uint64_t n = 0;
    for (const weft::worker_stats& s : weft::runtime_stats())
        n += s.handoffs;
    return n;
}

// A task that blocks its thread without saying so (a plain sleep standing for
// a blocking system call). Before blocking it fills its own loop: tasks in
// the local queue and timers, which only that loop holds.
struct blocked_scenario {
    std::atomic<int> runs{0};
    std::atomic<int> finished_during_block{0};
    std::atomic<bool> blocking{false};
};

weft::task<void> small(blocked_scenario* s, bool timer) {
    if (timer) co_await weft::sleep(5ms);
    s->runs.fetch_add(1, std::memory_order_relaxed);
    if (s->blocking.load(std::memory_order_acquire))
        s->finished_during_block.fetch_add(1, std::memory_order_relaxed);
}

// Fills its loop, then blocks its worker, unannounced, for 300 ms; with
// `until_run_elsewhere`, for as long as it takes the other threads to run
// every task it made (at most 20 s), so that a machine too loaded to hand
// off within 300 ms (ThreadSanitizer, many copies at once) does not fail
// the test by timing. The step that makes the tasks never yields, so none
// of them can run on this thread before the block ends: `blocking` is set
// before the first is made, and every task counts.
weft::task<std::uint64_t> blocker_main(blocked_scenario* s, int per_kind,
                                       bool until_run_elsewhere = false) {
    std::vector<weft::task_handle<void>> hs;
    s->blocking.store(true, std::memory_order_release);
    for (int i = 0; i < per_kind; ++i) {
        hs.push_back(weft::create_task(small(s, false)));
        hs.push_back(weft::create_task(small(s, true)));
    }
    auto give_up = std::chrono::steady_clock::now() + 20s;
    std::this_thread::sleep_for(300ms);
    while (until_run_elsewhere &&
           s->finished_during_block.load(std::memory_order_relaxed) < 2 * per_kind &&
           std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(10ms);
    }
    s->blocking.store(false, std::memory_order_release);
    for (auto& h : hs)
        co_await h;
    co_return total_handoffs();
}

TEST(HandoffStress, QueuedTasksAndTimersOfABlockedWorkerStillRun) {
    blocked_scenario s;
    constexpr int per_kind = 200;
    std::uint64_t handoffs = weft::run(blocker_main(&s, per_kind, true), {.threads = 2});
    EXPECT_EQ(s.runs.load(), 2 * per_kind);  // each exactly once
    EXPECT_GE(handoffs, 1u);
    // All of them ran while their creator's thread was blocked: stolen, or
    // run by the spare its loop went to (the timers too, which only that
    // loop holds).
    EXPECT_EQ(s.finished_during_block.load(), 2 * per_kind);
}

TEST(HandoffStress, MonitorOffMeansNoHandoff) {
    blocked_scenario s;
    std::uint64_t handoffs =
        weft::run(blocker_main(&s, 10), {.threads = 2, .blocking_threshold = 0ns});
    EXPECT_EQ(s.runs.load(), 20);
    EXPECT_EQ(handoffs, 0u);
}

// A step that keeps spawning for far longer than the threshold is running
// weft code, not blocked: the monitor leaves its loop alone (a hand-off
// would send every further spawn through the global queue, one at a time).
// Without that rule every attempt is handed off once the threshold passes;
// with it, only a spawner that the OS leaves off its CPU for a whole
// threshold (100 ms: a heavily loaded machine) is, so one attempt of three
// without a hand-off is required.
weft::task<void> counted(std::atomic<long>* done) {
    done->fetch_add(1, std::memory_order_relaxed);
    co_return;
}

weft::task<std::uint64_t> spawn_for(std::chrono::milliseconds how_long) {
    std::atomic<long> done{0};
    long spawned = 0;
    auto until = clock_type::now() + how_long;
    while (clock_type::now() < until) {
        for (int i = 0; i < 64; ++i, ++spawned)
            weft::create_task(counted(&done));
    }
    std::uint64_t handoffs = total_handoffs();  // still in the spawning step
    while (done.load(std::memory_order_relaxed) != spawned)
        co_await weft::sleep(1ms);
    co_return handoffs;
}

TEST(HandoffStress, AStepThatKeepsSpawningIsNotHandedOff) {
    std::vector<std::uint64_t> seen;
    for (int attempt = 0; attempt < 3; ++attempt) {
        seen.push_back(weft::run(spawn_for(300ms), {.threads = 2, .blocking_threshold = 100ms}));
        if (seen.back() == 0) break;
    }
    EXPECT_EQ(seen.back(), 0u) << "handed off in each of " << seen.size() << " attempts";
}

// Sockets too: a reader queued on the blocked worker gets its data while
// that worker is still blocked (its loop's poller runs on another thread).
weft::task<bool> socket_during_block() {
    auto [a, b] = weft::socketpair();
    std::atomic<bool> blocking{true};
    std::atomic<bool> got_during_block{false};
    auto reader = weft::create_task([](weft::socket* s, std::atomic<bool>* still_blocking,
                                       std::atomic<bool>* got) -> weft::task<std::string> {
        std::string data = co_await weft::sock_recv(*s, 64);
        got->store(still_blocking->load());
        co_return data;
    }(&a, &blocking, &got_during_block));
    // The fd, not the binding: Clang before 16 cannot capture a structured
    // binding (C++20 allows it).
    std::thread writer([fd = b.fd()] {
        std::this_thread::sleep_for(50ms);
        EXPECT_EQ(::write(fd, "ping", 4), 4);
    });
    std::this_thread::sleep_for(300ms);  // blocks this worker, unannounced
    blocking.store(false);
    writer.join();
    std::string data = co_await reader;
    EXPECT_EQ(data, "ping");
    co_return got_during_block.load();
}

TEST(HandoffStress, SocketReadsCompleteWhileTheirWorkerIsBlocked) {
    EXPECT_TRUE(weft::run(socket_during_block(), {.threads = 2}));
}

// After its loop was taken, a blocked step goes on: the tasks it creates
// are registered through the loop's link stack, and may finish on the new
// driver before it links them. They must stay tracked until they are done
// (this once freed a task still on that stack).
weft::task<int> tiny(int i) {
    co_return i;
}

weft::task<long> create_after_losing_the_loop() {
    long sum = 0;
    for (int round = 0; round < 10; ++round) {
        std::this_thread::sleep_for(5ms);  // long enough to be retaken (threshold 1 ms)
        std::vector<weft::task_handle<int>> hs;
        for (int i = 0; i < 50; ++i)
            hs.push_back(weft::create_task(tiny(i)));
        for (auto& h : hs)
            sum += co_await h;
        co_await weft::yield_now();
    }
    co_return sum;
}

TEST(HandoffStress, TasksCreatedAfterLosingTheLoopAreTrackedUntilDone) {
    long sum = weft::run(create_after_losing_the_loop(),
                         {.threads = 2, .blocking_threshold = std::chrono::milliseconds(1)});
    EXPECT_EQ(sum, 10L * (49 * 50 / 2));
}

// ---- weft::blocking

weft::task<int> blocking_value(int i, std::atomic<int>* inside, std::atomic<int>* peak) {
    int v = co_await weft::blocking([&] {
        int now = inside->fetch_add(1) + 1;
        int p = peak->load();
        while (now > p && !peak->compare_exchange_weak(p, now)) {
        }
        std::this_thread::sleep_for(20ms);
        inside->fetch_sub(1);
        return i * 2;
    });
    co_await weft::yield_now();  // still a normal task afterwards
    co_return v;
}

weft::task<int> many_blocking(int n, std::atomic<int>* inside, std::atomic<int>* peak) {
    std::vector<weft::task_handle<int>> hs;
    for (int i = 0; i < n; ++i)
        hs.push_back(weft::create_task(blocking_value(i, inside, peak)));
    int sum = 0;
    for (auto& h : hs)
        sum += co_await h;
    co_return sum;
}

TEST(HandoffStress, BlockingCallsOverlapInGoMode) {
    std::atomic<int> inside{0}, peak{0};
    constexpr int n = 16;
    int sum = weft::run(many_blocking(n, &inside, &peak), {.threads = 2});
    EXPECT_EQ(sum, n * (n - 1));
    // Two workers, yet more than two calls blocked at once: each call handed
    // its loop on, so the next task could start its own.
    EXPECT_GT(peak.load(), 2);
}

TEST(HandoffStress, MaxBlockingThreadsBoundsTheThreadsButLosesNothing) {
    std::atomic<int> inside{0}, peak{0};
    constexpr int n = 12;
    int sum =
        weft::run(many_blocking(n, &inside, &peak), {.threads = 2, .max_blocking_threads = 1});
    EXPECT_EQ(sum, n * (n - 1));
    // Two workers plus one spare: at most three threads can be inside.
    EXPECT_LE(peak.load(), 3);
}

weft::task<int> blocking_throws() {
    try {
        co_await weft::blocking([]() -> int { throw std::runtime_error("disk on fire"); });
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "disk on fire");
        co_return 1;
    }
    co_return 0;
}

TEST(HandoffStress, BlockingRethrowsAtTheAwait) {
    EXPECT_EQ(weft::run(blocking_throws(), {.threads = 2}), 1);
    EXPECT_EQ(weft::run(blocking_throws(), {.threads = 1}), 1);
}

weft::task<bool> blocking_inline_single_thread() {
    std::thread::id here = std::this_thread::get_id();
    std::thread::id there = co_await weft::blocking([] { return std::this_thread::get_id(); });
    co_return here == there;
}

TEST(HandoffStress, SingleThreadRunsBlockingInline) {
    EXPECT_TRUE(weft::run(blocking_inline_single_thread(), {.threads = 1}));
}

weft::task<void> nothing() {
    co_return;
}

TEST(HandoffStress, NegativeThresholdIsRejected) {
    try {
        weft::run(nothing(), {.threads = 2, .blocking_threshold = -1ms});
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("blocking_threshold"), std::string::npos) << e.what();
    }
}

// Many short unannounced blocks around ordinary traffic: hand-offs come and
// go while tasks migrate; counts must still add up.
weft::task<void> jittery(int i, std::atomic<int>* done) {
    for (int r = 0; r < 20; ++r) {
        if ((i + r) % 9 == 0) std::this_thread::sleep_for(3ms);
        co_await weft::yield_now();
    }
    done->fetch_add(1, std::memory_order_relaxed);
}

weft::task<void> jitter_main(int n, std::atomic<int>* done) {
    std::vector<weft::task_handle<void>> hs;
    for (int i = 0; i < n; ++i)
        hs.push_back(weft::create_task(jittery(i, done)));
    for (auto& h : hs)
        co_await h;
}

TEST(HandoffStress, FrequentShortBlocksLoseNothing) {
    std::atomic<int> done{0};
    weft::run(jitter_main(64, &done),
              {.threads = 2, .blocking_threshold = std::chrono::microseconds(500)});
    EXPECT_EQ(done.load(), 64);
}

}  // namespace
