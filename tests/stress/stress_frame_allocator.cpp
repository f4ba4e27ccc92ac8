// The frame pool under threads (runs under ThreadSanitizer in CI). The tests
// drive the pool itself (pool_take/pool_put), which the runtime bypasses
// under sanitizers.
#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/detail/frame_allocator.hpp>
#include <weft/memory.hpp>

namespace {

using weft::detail::pool_put;
using weft::detail::pool_take;

// Stress (runs under ThreadSanitizer): blocks allocated on one thread are
// freed on another, in both directions, with their contents checked, so
// lists fill, spill to the depot and refill from it.
TEST(FramePoolStress, CrossThreadFreesKeepBlocksIntact) {
    constexpr int rounds = 20000;
    struct channel {
        std::mutex m;
        std::vector<unsigned char*> items;
    } to[2];
    auto check_and_free = [](unsigned char* q) {
        std::size_t size = *reinterpret_cast<std::size_t*>(q + 8);
        EXPECT_EQ(q[0], q[size - 1]);
        pool_put(q, size);
    };
    auto worker = [&](int me) {
        int other = 1 - me;
        for (int i = 0; i < rounds; ++i) {
            std::size_t size = 32 + static_cast<std::size_t>(i % 30) * 16;  // room for the tag
            auto* p = static_cast<unsigned char*>(pool_take(size));
            p[0] = p[size - 1] = static_cast<unsigned char>(i);
            *reinterpret_cast<std::size_t*>(p + 8) = size;
            {
                std::lock_guard lock(to[other].m);
                to[other].items.push_back(p);
            }
            std::vector<unsigned char*> mine;
            {
                std::lock_guard lock(to[me].m);
                mine.swap(to[me].items);
            }
            for (unsigned char* q : mine)
                check_and_free(q);
        }
    };
    std::thread a(worker, 0), b(worker, 1);
    a.join();
    b.join();
    for (auto& c : to)
        for (unsigned char* q : c.items)
            check_and_free(q);
}

// Stress: trimming while other threads allocate, free across threads, go
// idle and exit. Every block is checked before it is freed: a chunk unmapped
// while one of its objects was still in use or on a list would fault or
// corrupt it, and ThreadSanitizer sees the depot's handoffs.
TEST(FramePoolStress, TrimConcurrentWithAllocationFreeIdleAndExit) {
    weft::detail::pool_set_idle_period(1'000'000);  // 1 ms: idle trims happen often
    constexpr int rounds = 1000;
    constexpr int burst = 200;
    struct channel {
        std::mutex m;
        std::vector<unsigned char*> items;
    } to[2];
    std::atomic<bool> done{false};
    auto check_and_free = [](unsigned char* q) {
        std::size_t size = *reinterpret_cast<std::size_t*>(q + 8);
        unsigned char tag = q[0];
        for (std::size_t b = 16; b < size; ++b)
            ASSERT_EQ(q[b], tag);
        pool_put(q, size);
    };
    auto worker = [&](int me) {
        int other = 1 - me;
        for (int i = 0; i < rounds; ++i) {
            // A burst, so that lists spill to the depot and chunks fill.
            std::vector<unsigned char*> mine;
            for (int j = 0; j < burst; ++j) {
                std::size_t size = 32 + static_cast<std::size_t>((i + j) % 40) * 16;
                auto* p = static_cast<unsigned char*>(pool_take(size));
                std::memset(p, i + j, size);
                *reinterpret_cast<std::size_t*>(p + 8) = size;
                mine.push_back(p);
            }
            // Half freed here, half by the other thread.
            {
                std::lock_guard lock(to[other].m);
                to[other].items.insert(to[other].items.end(), mine.begin() + burst / 2, mine.end());
            }
            mine.resize(burst / 2);
            {
                std::lock_guard lock(to[me].m);
                mine.insert(mine.end(), to[me].items.begin(), to[me].items.end());
                to[me].items.clear();
            }
            for (unsigned char* q : mine)
                check_and_free(q);
            // Now and then: go idle (hands this thread's lists in, may trim).
            if (i % 64 == 0) weft::detail::pool_idle(-1);
        }
    };
    std::thread trimmer([&] {
        while (!done.load(std::memory_order_relaxed)) {
            weft::trim();
            weft::detail::pool_idle(-1);
            std::this_thread::yield();
        }
    });
    // Short-lived threads: their lists and chunk go to the depot as they exit.
    std::thread exiters([&] {
        for (int t = 0; t < 20 && !done.load(std::memory_order_relaxed); ++t) {
            std::thread([] {
                std::vector<void*> ps;
                for (int j = 0; j < 3000; ++j)
                    ps.push_back(pool_take(48 + static_cast<std::size_t>(j % 8) * 16));
                for (int j = 0; j < 3000; ++j)
                    pool_put(ps[static_cast<std::size_t>(j)],
                             48 + static_cast<std::size_t>(j % 8) * 16);
            }).join();
        }
    });
    std::thread a(worker, 0), b(worker, 1);
    a.join();
    b.join();
    exiters.join();
    done.store(true, std::memory_order_relaxed);
    trimmer.join();
    for (auto& c : to)
        for (unsigned char* q : c.items)
            check_and_free(q);
    weft::detail::pool_set_idle_period(0);
}

}  // namespace
