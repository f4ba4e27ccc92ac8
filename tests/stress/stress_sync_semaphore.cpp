// semaphore hammered from several workers and plain threads at once (runs
// under ThreadSanitizer in CI): never more holders than permits, no wake-up
// lost, and every permit back at the end, also when waiters are cancelled
// while releases race with them.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

constexpr std::size_t permits = 3;

weft::task<void> holder(weft::semaphore* s, std::atomic<int>* inside, int rounds) {
    for (int r = 0; r < rounds; ++r) {
        auto held = co_await s->scoped();
        int now = inside->fetch_add(1) + 1;
        EXPECT_LE(now, static_cast<int>(permits)) << "more holders than permits";
        if (r % 5 == 0) co_await weft::yield_now();  // hold it across a suspension
        inside->fetch_sub(1);
    }
}

TEST(SemaphoreStress, NeverMoreHoldersThanPermitsAcrossWorkersAndThreads) {
    weft::semaphore s(permits);
    std::atomic<int> inside{0};
    std::atomic<bool> stop{false};
    // Plain threads take and return permits without waiting, beside the tasks.
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
        threads.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed)) {
                if (s.try_acquire()) {
                    EXPECT_LE(inside.fetch_add(1) + 1, static_cast<int>(permits));
                    inside.fetch_sub(1);
                    s.release();  // may hand the permit to a waiting task
                }
                std::this_thread::yield();
            }
        });
    }
    weft::run(
        [](weft::semaphore* sem, std::atomic<int>* in) -> weft::task<void> {
            std::vector<weft::task_handle<void>> ts;
            for (int i = 0; i < 32; ++i)
                ts.push_back(weft::create_task(holder(sem, in, 2000)));
            for (auto& t : ts)
                co_await t;
        }(&s, &inside),
        {.threads = 4});
    stop = true;
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(s.value(), permits) << "a permit was lost or made up";
    EXPECT_FALSE(s.locked());
}

TEST(SemaphoreStress, CancelledWaitersLoseNoPermit) {
    weft::run(
        []() -> weft::task<void> {
            weft::bounded_semaphore s(permits);
            std::atomic<int> inside{0};
            for (int round = 0; round < 1000; ++round) {
                // Hold every permit, queue waiters, then release while
                // cancelling half of them: the releases hand permits to
                // waiters that may be cancelled before they run.
                for (std::size_t i = 0; i < permits; ++i)
                    co_await s.acquire();
                std::vector<weft::task_handle<void>> ts;
                for (int i = 0; i < 8; ++i)
                    ts.push_back(weft::create_task(holder(&s, &inside, 1)));
                co_await weft::yield_now();
                for (std::size_t i = 0; i < ts.size(); i += 2)
                    ts[i].cancel();
                for (std::size_t i = 0; i < permits; ++i)
                    s.release();
                for (auto& t : ts) {
                    try {
                        co_await t;
                    } catch (const weft::cancelled_error&) {
                    }
                }
                EXPECT_EQ(s.value(), permits) << "round " << round;
            }
            EXPECT_THROW(s.release(), std::logic_error);  // still bounded
        }(),
        {.threads = 4});
}

}  // namespace
