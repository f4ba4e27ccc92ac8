// event and lock hammered from several workers at once (runs under
// ThreadSanitizer in CI): mutual exclusion holds, no wake-up is lost.
#include <atomic>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

TEST(SyncStress, LockKeepsMutualExclusionAcrossWorkers) {
    constexpr int tasks = 64, rounds = 500;
    long counter = 0;  // plain: protected by the lock alone
    std::atomic<int> inside{0};
    weft::run(
        [](long* c, std::atomic<int>* in) -> weft::task<void> {
            weft::lock l;
            std::vector<weft::task_handle<void>> ts;
            for (int i = 0; i < tasks; ++i) {
                ts.push_back(weft::create_task(
                    [](weft::lock* lk, long* cc, std::atomic<int>* inn) -> weft::task<void> {
                        for (int r = 0; r < rounds; ++r) {
                            auto held = co_await lk->scoped();
                            EXPECT_EQ(inn->fetch_add(1), 0) << "two holders at once";
                            long v = *cc;
                            if (r % 7 == 0)
                                co_await weft::yield_now();  // hold it across a suspension
                            *cc = v + 1;
                            inn->fetch_sub(1);
                        }
                    }(&l, c, in)));
            }
            for (auto& t : ts)
                co_await t;
        }(&counter, &inside),
        {.threads = 4});
    EXPECT_EQ(counter, static_cast<long>(tasks) * rounds);
}

TEST(SyncStress, EventWakesEveryWaiterEveryRound) {
    // Rounds of: many waiters block on an event, another worker sets it.
    // A lost wake-up would hang the test.
    weft::run(
        []() -> weft::task<void> {
            for (int round = 0; round < 200; ++round) {
                weft::event ev;
                std::atomic<int> woken{0};
                std::vector<weft::task_handle<void>> ts;
                for (int i = 0; i < 20; ++i) {
                    ts.push_back(weft::create_task(
                        [](weft::event* e, std::atomic<int>* w) -> weft::task<void> {
                            co_await e->wait();
                            w->fetch_add(1);
                        }(&ev, &woken)));
                }
                auto setter = weft::create_task([](weft::event* e) -> weft::task<void> {
                    co_await weft::yield_now();
                    e->set();
                }(&ev));
                for (auto& t : ts)
                    co_await t;
                co_await setter;
                EXPECT_EQ(woken.load(), 20);
            }
        }(),
        {.threads = 4});
}

TEST(SyncStress, LockWaitersCancelledWhileReleasesRace) {
    weft::run(
        []() -> weft::task<void> {
            weft::lock l;
            for (int round = 0; round < 300; ++round) {
                co_await l.acquire();
                std::vector<weft::task_handle<void>> ts;
                for (int i = 0; i < 8; ++i) {
                    ts.push_back(weft::create_task([](weft::lock* lk) -> weft::task<void> {
                        auto held = co_await lk->scoped();
                    }(&l)));
                }
                co_await weft::yield_now();
                for (int i = 0; i < 8; i += 2)
                    ts[static_cast<std::size_t>(i)].cancel();
                l.release();
                for (auto& t : ts) {
                    try {
                        co_await t;
                    } catch (const weft::cancelled_error&) {
                    }
                }
                EXPECT_FALSE(l.locked()) << "round " << round;  // nothing held, nothing lost
            }
        }(),
        {.threads = 4});
}

}  // namespace
