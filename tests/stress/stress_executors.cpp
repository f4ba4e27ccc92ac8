// The executors under load (these run under ThreadSanitizer in CI): the
// thread-safe future raced by completers, cancellers and waiters on many
// threads; run_in_executor from many tasks of a Go-mode runtime with random
// cancellations; and a process pool taking 1,000 calls of which some crash
// their worker at random.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <future>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include <weft/detail/config.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

}  // namespace

// Plain threads race on shared futures: some wait without limit, some with
// tiny timeouts (so their wait nodes leave the done-list while completers
// run it), some cancel, some add done-callbacks; the pool's threads start
// and complete the jobs. Every future ends exactly once, either with its
// value or cancelled, and every callback runs exactly once.
TEST(StressExecutors, ThreadSafeFutureUnderRaces) {
    weft::thread_pool_executor pool(4);
    constexpr int rounds = 300;
    constexpr int per_round = 8;
    std::atomic<int> callbacks{0};
    std::atomic<int> values{0};
    std::atomic<int> cancels{0};
    for (int r = 0; r < rounds; ++r) {
        std::vector<weft::executor_future<int>> fs;
        for (int i = 0; i < per_round; ++i) {
            fs.push_back(pool.submit([i] {
                if (i % 3 == 0) std::this_thread::yield();
                return i;
            }));
            fs.back().add_done_callback([&callbacks](weft::executor_future<int>&) {
                callbacks.fetch_add(1, std::memory_order_relaxed);
            });
        }
        std::vector<std::thread> threads;
        for (int t = 0; t < 3; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < per_round; ++i) {
                    auto& f = fs[static_cast<std::size_t>((i + t) % per_round)];
                    switch ((mix(static_cast<std::uint64_t>(r * 97 + t * 13 + i)) >> 7) % 4) {
                        case 0:
                            f.wait();
                            break;
                        case 1:
                            (void)f.wait_for(std::chrono::microseconds(1));
                            break;
                        case 2:
                            f.cancel();
                            break;
                        default:
                            (void)f.wait_for(50us);
                            break;
                    }
                }
            });
        }
        for (auto& th : threads)
            th.join();
        for (int i = 0; i < per_round; ++i) {
            auto& f = fs[static_cast<std::size_t>(i)];
            f.wait();
            if (f.cancelled()) {
                cancels.fetch_add(1, std::memory_order_relaxed);
            } else {
                EXPECT_EQ(f.get(), i);
                values.fetch_add(1, std::memory_order_relaxed);
            }
        }
    }
    pool.shutdown();
    EXPECT_EQ(values.load() + cancels.load(), rounds * per_round);
    // Callbacks run on the completing thread: wait for the last ones.
    for (int i = 0; i < 1000 && callbacks.load() < rounds * per_round; ++i)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(callbacks.load(), rounds * per_round);
}

// Tasks on four workers await jobs; others cancel them at random moments:
// before the job starts, while it runs, while the task polls or parks. Each
// task ends exactly once, with the job's value or cancelled_error.
TEST(StressExecutors, RunInExecutorWithRandomCancellationInGoMode) {
    struct counts {
        std::atomic<int> ok{0};
        std::atomic<int> cancelled{0};
        std::atomic<int> wrong{0};
    } c;
    weft::run(
        [](counts* k) -> weft::task<void> {
            weft::thread_pool_executor pool(3);
            constexpr int n = 400;
            std::vector<weft::task_handle<void>> tasks;
            for (int i = 0; i < n; ++i) {
                tasks.push_back(weft::create_task(
                    [](weft::thread_pool_executor& p, int x, counts* kk) -> weft::task<void> {
                        try {
                            int v = co_await weft::run_in_executor(p, [x] {
                                if (x % 5 == 0) std::this_thread::sleep_for(100us);
                                return x + 1;
                            });
                            (v == x + 1 ? kk->ok : kk->wrong).fetch_add(1);
                        } catch (const weft::cancelled_error&) {
                            kk->cancelled.fetch_add(1);
                        }
                    }(pool, i, k)));
                if (mix(static_cast<std::uint64_t>(i)) % 4 == 0) co_await weft::yield_now();
            }
            for (int i = 0; i < n; i += 3) {
                tasks[static_cast<std::size_t>(i)].cancel();
                if (i % 9 == 0) co_await weft::sleep(0.0001);
            }
            for (auto& t : tasks) {
                try {
                    co_await t;
                } catch (const weft::cancelled_error&) {
                }
            }
        }(&c),
        {.threads = 4});
    EXPECT_EQ(c.wrong.load(), 0);
    EXPECT_EQ(c.ok.load() + c.cancelled.load(), 400);
    EXPECT_GT(c.ok.load(), 0);
}

namespace {

// 1 call in `crash_one_in` crashes its worker, in one of four ways.
constexpr int crash_one_in = 10;

long maybe_crash(long x, int how) {
    switch (how) {
        case 1:
            std::abort();
        case 2:
            ::_exit(7);
        case 3:
            ::kill(::getpid(), SIGKILL);
            std::this_thread::sleep_for(10s);
            break;
        case 4: {
            volatile int* p = nullptr;
            return *p;
        }
        default:
            break;
    }
    return x * 3 + 1;
}

}  // namespace

// 1,000 calls from 50 tasks, about a tenth of which crash their worker: every
// other call returns its right result, every crashing one fails with
// worker_died_error, and the pool works as before afterwards.
void thousand_calls_with_crashes(int threads) {
    weft::process_pool_executor pool(3);
    struct counts {
        std::atomic<int> right{0};
        std::atomic<int> died{0};
        std::atomic<int> wrong{0};
    } c;
    weft::run(
        [](weft::process_pool_executor& p, counts* k) -> weft::task<void> {
            std::vector<weft::task<void>> tasks;
            for (int t = 0; t < 50; ++t) {
                tasks.push_back([](weft::process_pool_executor& pp, int base,
                                   counts* kk) -> weft::task<void> {
                    for (int i = 0; i < 20; ++i) {
                        long x = base * 20 + i;
                        std::uint64_t h = mix(static_cast<std::uint64_t>(x) + 12345);
                        int how = h % crash_one_in == 0 ? 1 + static_cast<int>((h >> 8) % 4) : 0;
                        try {
                            long v = co_await weft::run_in_executor(pp, maybe_crash, x, how);
                            (how == 0 && v == x * 3 + 1 ? kk->right : kk->wrong).fetch_add(1);
                        } catch (const weft::worker_died_error&) {
                            (how != 0 ? kk->died : kk->wrong).fetch_add(1);
                        } catch (...) {
                            kk->wrong.fetch_add(1);
                        }
                    }
                }(p, t, k));
            }
            co_await weft::gather(std::move(tasks));
            // The pool still works: a batch of plain calls.
            std::vector<weft::executor_future<long>> fs;
            for (long i = 0; i < 20; ++i)
                fs.push_back(weft::run_in_executor(p, maybe_crash, i, 0));
            long sum = 0;
            for (long v : co_await weft::gather(std::move(fs)))
                sum += v;
            EXPECT_EQ(sum, 3 * 190 + 20);
            EXPECT_LE(p.worker_pids().size(), 3u);
        }(pool, &c),
        {.threads = threads});
    int crashing = 0;
    for (long x = 0; x < 1000; ++x)
        crashing += mix(static_cast<std::uint64_t>(x) + 12345) % crash_one_in == 0;
    EXPECT_EQ(c.wrong.load(), 0);
    EXPECT_EQ(c.died.load(), crashing);
    EXPECT_EQ(c.right.load(), 1000 - crashing);
    pool.shutdown();
}

TEST(StressExecutors, ProcessPoolThousandCallsWithRandomCrashes) {
    thousand_calls_with_crashes(1);
}

TEST(StressExecutors, ProcessPoolThousandCallsWithRandomCrashesInGoMode) {
    thousand_calls_with_crashes(4);
}

// Cancellations and timeouts racing with replies: tasks on four workers, each
// call cancelled or timed out at a random point; the pool survives and the
// next calls are right.
TEST(StressExecutors, ProcessPoolCancellationRaces) {
    weft::process_pool_executor pool(2);
    std::atomic<int> bad{0};
    weft::run(
        [](weft::process_pool_executor& p, std::atomic<int>* b) -> weft::task<void> {
            for (int round = 0; round < 40; ++round) {
                auto f =
                    weft::run_in_executor(p, weft::call_options{.timeout = 0.002 * (round % 4)},
                                          maybe_crash, static_cast<long>(round), 0);
                if (round % 3 == 0) co_await weft::sleep(0.0005 * (round % 5));
                if (round % 2 == 0) f.cancel();
                try {
                    long v = co_await f;
                    if (v != round * 3 + 1) b->fetch_add(1);
                } catch (const weft::cancelled_error&) {
                } catch (const weft::timeout_error&) {
                }
            }
            long v = co_await weft::run_in_executor(p, maybe_crash, 5L, 0);
            if (v != 16) b->fetch_add(1);
        }(pool, &bad),
        {.threads = 4});
    EXPECT_EQ(bad.load(), 0);
}
