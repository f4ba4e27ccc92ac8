// The Go-mode runtime under load (runs under ThreadSanitizer in CI): random
// spawn trees where every task must run once and every result arrive once,
// ping-pong chains across workers, and storms of wake-ups aimed at parking
// workers, which must never be lost (the test would hang).
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

int threads_for_stress() {
    return 4;
}

// ---- random spawn trees

struct tree_stats {
    std::atomic<std::uint64_t> runs{0};
};

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

// A node spawns 0..4 children (depending on its seed), some awaited as task
// handles, some inline, and returns the number of nodes in its subtree.
weft::task<std::uint64_t> node(std::uint64_t seed, int depth, tree_stats* st) {
    st->runs.fetch_add(1, std::memory_order_relaxed);
    if (depth == 0) co_return 1;
    int children = static_cast<int>(mix(seed) % 5);
    std::vector<weft::task_handle<std::uint64_t>> spawned;
    std::uint64_t total = 1;
    for (int i = 0; i < children; ++i) {
        std::uint64_t s = mix(seed * 31 + static_cast<std::uint64_t>(i));
        if (s % 4 == 0) {
            total += co_await node(s, depth - 1, st);  // inline
        } else {
            spawned.push_back(weft::create_task(node(s, depth - 1, st)));
        }
        if (s % 7 == 0) co_await weft::yield_now();
    }
    for (auto& h : spawned)
        total += co_await h;
    co_return total;
}

// The same tree counted without running anything.
std::uint64_t expected_nodes(std::uint64_t seed, int depth) {
    if (depth == 0) return 1;
    int children = static_cast<int>(mix(seed) % 5);
    std::uint64_t total = 1;
    for (int i = 0; i < children; ++i)
        total += expected_nodes(mix(seed * 31 + static_cast<std::uint64_t>(i)), depth - 1);
    return total;
}

TEST(RuntimeStress, RandomSpawnTreesRunEveryTaskExactlyOnce) {
    for (std::uint64_t seed : {1ull, 7ull, 42ull, 99ull, 1234ull}) {
        constexpr int depth = 12;
        tree_stats st;
        std::uint64_t got = weft::run(node(seed, depth, &st), {.threads = threads_for_stress()});
        std::uint64_t want = expected_nodes(seed, depth);
        EXPECT_EQ(got, want) << "seed " << seed;
        EXPECT_EQ(st.runs.load(), want) << "seed " << seed;
    }
}

// ---- joins in place racing thieves and cancels

// Every node spawns three children and awaits them in spawn order, so that
// joins run children in place (go_worker_join_inline) while thieves take
// the same children; some children are cancelled as soon as they are
// spawned, when they may be queued, stolen, or already running. Each node
// counts its runs under its own id (its path in base 4).
struct join_marks {
    explicit join_marks(std::size_t n) : runs(n) {}
    std::vector<std::atomic<std::uint32_t>> runs;
    std::atomic<std::uint64_t> cancelled_joins{0};
};

weft::task<std::uint64_t> joiner(std::uint64_t id, std::uint64_t seed, int depth, join_marks* m) {
    m->runs[id].fetch_add(1, std::memory_order_relaxed);
    if (depth == 0) co_return 1;
    std::vector<weft::task_handle<std::uint64_t>> children;
    for (std::uint64_t i = 0; i < 3; ++i) {
        std::uint64_t s = mix(seed * 31 + i);
        children.push_back(weft::create_task(joiner(id * 4 + i + 1, s, depth - 1, m)));
        if (s % 5 == 0) children.back().cancel();
    }
    std::uint64_t total = 1;
    for (auto& h : children) {
        try {
            total += co_await h;
        } catch (const weft::cancelled_error&) {
            m->cancelled_joins.fetch_add(1, std::memory_order_relaxed);
        }
    }
    co_return total;
}

TEST(RuntimeStress, JoinsInPlaceRaceThievesAndCancelsAndRunEachTaskAtMostOnce) {
    constexpr int depth = 7;  // 3,280 nodes; ids below 4^8
    std::uint64_t cancelled = 0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        join_marks m(std::size_t{1} << 16);
        std::uint64_t got =
            weft::run(joiner(0, seed, depth, &m), {.threads = threads_for_stress()});
        std::uint64_t ran = 0;
        for (auto& r : m.runs) {
            ASSERT_LE(r.load(), 1u) << "seed " << seed << ": a task ran twice";
            ran += r.load();
        }
        // What the root counted ran; what was cancelled before its first
        // step never did, and its subtree with it.
        EXPECT_GE(ran, got) << "seed " << seed;
        EXPECT_GE(got, 1u);
        cancelled += m.cancelled_joins.load();
    }
    EXPECT_GT(cancelled, 0u);  // the cancels did reach joins
}

// ---- ping-pong chains across workers

TEST(RuntimeStress, PingPongChainsAcrossWorkers) {
    // Each pair passes a ball there and back `rounds` times through one-shot
    // futures; the two tasks of a pair run wherever the scheduler puts them.
    auto run_pairs = []() -> weft::task<std::uint64_t> {
        constexpr int pairs = 200, rounds = 400;
        struct pair_state {
            std::vector<weft::future<int>> there, back;
        };
        std::vector<std::unique_ptr<pair_state>> states;
        std::vector<weft::task_handle<std::uint64_t>> pingers;
        std::vector<weft::task_handle<void>> pongers;
        for (int p = 0; p < pairs; ++p) {
            auto st = std::make_unique<pair_state>();
            for (int r = 0; r < rounds; ++r) {
                st->there.emplace_back();
                st->back.emplace_back();
            }
            pongers.push_back(weft::create_task([](pair_state* s) -> weft::task<void> {
                for (int r = 0; r < rounds; ++r)
                    s->back[r].set_result(co_await s->there[r] + 1);
            }(st.get())));
            pingers.push_back(weft::create_task([](pair_state* s) -> weft::task<std::uint64_t> {
                std::uint64_t sum = 0;
                for (int r = 0; r < rounds; ++r) {
                    s->there[r].set_result(r);
                    sum += static_cast<std::uint64_t>(co_await s->back[r]);
                }
                co_return sum;
            }(st.get())));
            states.push_back(std::move(st));
        }
        std::uint64_t total = 0;
        for (auto& p : pingers)
            total += co_await p;
        for (auto& p : pongers)
            co_await p;
        co_return total;
    };
    constexpr std::uint64_t rounds = 400, pairs = 200;
    EXPECT_EQ(weft::run(run_pairs(), {.threads = threads_for_stress()}),
              pairs * rounds * (rounds + 1) / 2);
}

// ---- wake-up storms against parking workers

TEST(RuntimeStress, WakeUpStormsFromOtherThreadsAreNeverLost) {
    // Plain threads complete futures that tasks await, in bursts separated by
    // pauses long enough for every worker to park. A lost wake-up hangs.
    auto main_task = []() -> weft::task<int> {
        constexpr int bursts = 150, per_burst = 50;
        int woken = 0;
        for (int b = 0; b < bursts; ++b) {
            std::vector<weft::future<int>> fs(per_burst);
            std::vector<weft::task_handle<int>> waiters;
            for (auto& f : fs) {
                waiters.push_back(weft::create_task(
                    [](weft::future<int> x) -> weft::task<int> { co_return co_await x; }(f)));
            }
            co_await weft::sleep(0.001);  // let them suspend; workers go idle
            std::thread setter([fs]() mutable {
                std::this_thread::sleep_for(std::chrono::microseconds(200));
                for (auto& f : fs) {
                    // A future's loop is the worker that made it; completing it
                    // from a plain thread wakes its task through the global queue.
                    f.set_result(1);
                }
            });
            for (auto& w : waiters)
                woken += co_await w;
            setter.join();
        }
        co_return woken;
    };
    EXPECT_EQ(weft::run(main_task(), {.threads = threads_for_stress()}), 150 * 50);
}

TEST(RuntimeStress, CallSoonThreadsafeStormsReachTheRuntime) {
    auto main_task = []() -> weft::task<int> {
        weft::event_loop& loop = weft::get_running_loop();
        std::atomic<int> count{0};
        weft::future<void> all_done;
        constexpr int producers = 4, each = 5000;
        std::vector<std::thread> ts;
        for (int p = 0; p < producers; ++p) {
            ts.emplace_back([&] {
                for (int i = 0; i < each; ++i) {
                    loop.call_soon_threadsafe([&] {
                        if (count.fetch_add(1) + 1 == producers * each) all_done.set_result();
                    });
                }
            });
        }
        co_await all_done;
        for (auto& t : ts)
            t.join();
        co_return count.load();
    };
    EXPECT_EQ(weft::run(main_task(), {.threads = threads_for_stress()}), 4 * 5000);
}

TEST(RuntimeStress, ShutdownCancelsLeftoversOnEveryWorkerAndFreesThem) {
    std::atomic<int> cleaned{0};
    weft::run(
        [](std::atomic<int>* c) -> weft::task<void> {
            for (int i = 0; i < 1000; ++i) {
                weft::create_task([](std::atomic<int>* cc) -> weft::task<void> {
                    struct guard {
                        std::atomic<int>* c;
                        ~guard() { c->fetch_add(1); }
                    } g{cc};
                    co_await weft::sleep(100);
                }(c));
            }
            co_await weft::sleep(0.01);
        }(&cleaned),
        {.threads = threads_for_stress()});
    EXPECT_EQ(cleaned.load(), 1000);  // all cancelled, cleaned up, frames freed (LSan checks)
}

TEST(RuntimeStress, ASecondRunAfterwardsWorks) {
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(weft::run(
                      [](int k) -> weft::task<int> {
                          auto h = weft::create_task(
                              [](int x) -> weft::task<int> { co_return x * 2; }(k));
                          co_return co_await h;
                      }(i),
                      {.threads = threads_for_stress()}),
                  2 * i);
    }
}

}  // namespace

namespace {

// The task's wake-up from a plain thread is its last event: once it runs,
// run() returns and destroys the loop or runtime while the waking thread may
// still be in push_remote (notifying a parked worker, writing an eventfd).
// The destructors wait for it (event_loop::remote_pushes_); without that,
// ThreadSanitizer saw a freed runtime read here (SemaphoreStress, once).
weft::task<int> await_foreign(weft::future<int> f) {
    co_return co_await f;
}

void foreign_wakes_then_teardown(int threads, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        weft::future<int> f;
        std::thread waker([f, i]() mutable {
            std::this_thread::yield();
            f.set_result(i);
        });
        EXPECT_EQ(weft::run(await_foreign(f), {.threads = threads}), i);
        waker.join();
    }
}

}  // namespace

TEST(RuntimeStress, ALoopDestroyedRightAfterAForeignWakeWaitsForTheWaker) {
    foreign_wakes_then_teardown(1, 300);
}

TEST(RuntimeStress, ARuntimeDestroyedRightAfterAForeignWakeWaitsForTheWaker) {
    foreign_wakes_then_teardown(2, 300);
}
