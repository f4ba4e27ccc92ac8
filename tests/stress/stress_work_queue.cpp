// The local run queue alone, shrunk to 4 slots so that wrap-around, full
// queues and the last-item race are hit constantly: one owner pushing,
// popping and overflowing, several thieves stealing half at a
// time. Every item must be taken exactly once. Runs under ThreadSanitizer in
// CI.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/detail/work_queue.hpp>

namespace {

using queue4 = weft::detail::work_queue<4>;

TEST(WorkQueueStress, OwnerAndThievesSeeEveryItemExactlyOnce) {
    constexpr int thieves = 3;
    constexpr std::uintptr_t items = 1000000;
    queue4 q;
    std::vector<std::atomic<unsigned char>> seen(items + 1);
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> taken{0};

    auto take = [&](std::uintptr_t v) {
        ASSERT_GE(v, 1u);
        ASSERT_LE(v, items);
        ASSERT_EQ(seen[v].fetch_add(1, std::memory_order_relaxed), 0) << "item " << v << " twice";
        taken.fetch_add(1, std::memory_order_relaxed);
    };

    std::vector<std::thread> ts;
    for (int i = 0; i < thieves; ++i) {
        ts.emplace_back([&] {
            queue4 mine;  // thieves steal into their own queue, then drain it
            while (!done.load(std::memory_order_acquire) || !q.empty()) {
                std::uint32_t n = 0;
                if (std::uintptr_t v = q.stealer().steal_into(mine.owner(), n)) {
                    take(v);
                    while (std::uintptr_t w = mine.owner().pop())
                        take(w);
                }
            }
            while (std::uintptr_t w = mine.owner().pop())
                take(w);
        });
    }

    std::uintptr_t next = 1;
    unsigned step = 0;
    while (next <= items) {
        ++step;
        if (q.owner().try_push(next)) {
            ++next;
        } else if (step % 2 == 0) {
            // Full: overflow half, as the worker does.
            q.owner().take_half_for_overflow([&](std::uintptr_t v) { take(v); });
        }
        if (step % 5 == 0) {
            if (std::uintptr_t v = q.owner().pop()) take(v);
        }
    }
    while (std::uintptr_t v = q.owner().pop())
        take(v);
    done.store(true, std::memory_order_release);
    for (auto& t : ts)
        t.join();

    EXPECT_EQ(taken.load(), items);
    for (std::uintptr_t v = 1; v <= items; ++v)
        ASSERT_EQ(seen[v].load(), 1) << "item " << v;
}

// The owner's peek (joins in place look for a child this way): the newest
// items, by depth, without taking any; 0 past the oldest. A thief taking the
// oldest items shortens what peek sees.
TEST(WorkQueueStress, PeekShowsTheNewestItemsWithoutTakingThem) {
    weft::detail::work_queue<8> q, thief_q;
    auto own = q.owner();
    EXPECT_EQ(own.peek(0), 0u);
    for (std::uintptr_t v = 1; v <= 5; ++v)
        ASSERT_TRUE(own.try_push(v));
    for (std::uint32_t d = 0; d < 5; ++d)
        EXPECT_EQ(own.peek(d), 5u - d) << "depth " << d;
    EXPECT_EQ(own.peek(5), 0u);
    EXPECT_EQ(own.size(), 5u);
    std::uint32_t n = 0;
    ASSERT_NE(q.stealer().steal_into(thief_q.owner(), n), 0u);  // the oldest ones
    EXPECT_EQ(own.peek(0), 5u);
    EXPECT_EQ(own.peek(5 - n), 0u);
    EXPECT_EQ(own.pop(), 5u);
    EXPECT_EQ(own.peek(0), 4u);
}

TEST(WorkQueueStress, LastItemRaceBetweenOwnerAndThief) {
    // One item at a time: the owner pops while a thief steals, over and over.
    queue4 q;
    queue4 thief_q;
    constexpr int rounds = 300000;
    std::atomic<int> round{0};
    std::atomic<int> thief_got{0}, owner_got{0};
    std::thread thief([&] {
        int last = -1;
        while (round.load(std::memory_order_acquire) < rounds) {
            std::uint32_t n = 0;
            if (q.stealer().steal_into(thief_q.owner(), n))
                thief_got.fetch_add(1, std::memory_order_relaxed);
            int r = round.load(std::memory_order_relaxed);
            (void)last;
            last = r;
        }
    });
    for (int r = 0; r < rounds; ++r) {
        ASSERT_TRUE(q.owner().try_push(static_cast<std::uintptr_t>(r + 1)));
        if (q.owner().pop()) owner_got.fetch_add(1, std::memory_order_relaxed);
        while (!q.empty()) {  // the thief is mid-steal: let it finish
        }
        round.store(r + 1, std::memory_order_release);
    }
    thief.join();
    EXPECT_EQ(owner_got.load() + thief_got.load(), rounds);
}

}  // namespace
