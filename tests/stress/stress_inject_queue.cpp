// The injection queue (weft/detail/inject_queue.hpp) on its own: its order
// and its segment boundaries on one thread, the memory it gives back, and
// several producers pushing single items and batches against several
// consumers taking batches. Every item must be taken exactly once, and each
// consumer sees each producer's items in the order pushed. Runs under
// ThreadSanitizer in CI.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/detail/inject_queue.hpp>

namespace {

using weft::detail::inject_queue;
constexpr std::size_t cap = inject_queue::segment_capacity;

TEST(InjectQueue, FifoAcrossSegmentBoundaries) {
    inject_queue q;
    std::uintptr_t next_in = 1;
    std::uintptr_t next_out = 1;
    // Batches of awkward sizes, so pushes and pops straddle segments.
    for (std::size_t round = 0; round < 40; ++round) {
        std::vector<std::uintptr_t> batch(round * 37 % 700 + 1);
        for (auto& v : batch)
            v = next_in++;
        q.push_batch(batch.data(), batch.size());
        q.push(next_in++);
        std::uintptr_t out[300];
        std::size_t n = q.pop_batch(out, round % 300 + 1);
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(out[i], next_out++);
        EXPECT_EQ(q.size_approx(), next_in - next_out);
    }
    std::uintptr_t out[1000];
    while (std::size_t n = q.pop_batch(out, 1000)) {
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(out[i], next_out++);
    }
    EXPECT_EQ(next_out, next_in);
    EXPECT_EQ(q.size_approx(), 0u);
    EXPECT_EQ(q.pop_batch(out, 1000), 0u);
}

TEST(InjectQueue, GivesSegmentsBackAsItDrains) {
    inject_queue q;
    constexpr std::uintptr_t items = 1'000'000;
    for (std::uintptr_t v = 1; v <= items; ++v)
        q.push(v);
    EXPECT_GE(q.segments(), items / cap);
    std::uintptr_t out[64];
    std::uintptr_t expect = 1;
    while (std::size_t n = q.pop_batch(out, 64)) {
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(out[i], expect++);
        // Never more than the segments still holding items plus one spare.
        ASSERT_LE(q.segments(), (items - expect + 1 + cap - 1) / cap + 2);
    }
    EXPECT_EQ(expect, items + 1);
    // Drained: at most the current segment and the spare remain (8 KiB).
    EXPECT_LE(q.segments(), 2u);
    // Reused, not reallocated, when filling again a little at a time.
    for (int i = 0; i < 10'000; ++i) {
        q.push(1);
        ASSERT_EQ(q.pop_batch(out, 64), 1u);
    }
    EXPECT_LE(q.segments(), 2u);
}

TEST(InjectQueueStress, ProducersAndConsumersSeeEveryItemOnceInOrder) {
    constexpr unsigned producers = 4;
    constexpr unsigned consumers = 3;
    constexpr std::uintptr_t per_producer = 200'000;
    inject_queue q;
    // An item is (producer << 32) | sequence, sequence from 1.
    std::vector<std::atomic<unsigned char>> seen(producers * per_producer);
    std::atomic<unsigned> producing{producers};
    std::atomic<std::uint64_t> taken{0};

    std::vector<std::thread> ts;
    for (unsigned p = 0; p < producers; ++p) {
        ts.emplace_back([&, p] {
            std::uintptr_t seq = 1;
            std::uintptr_t batch[700];
            unsigned round = 0;
            while (seq <= per_producer) {
                // Alternate single pushes and batches that cross segments.
                std::size_t n =
                    (++round % 3 == 0)
                        ? 1
                        : std::min<std::uintptr_t>(round * 13 % 700 + 1, per_producer - seq + 1);
                for (std::size_t i = 0; i < n; ++i)
                    batch[i] = (std::uintptr_t{p} << 32) | seq++;
                if (n == 1) {
                    q.push(batch[0]);
                } else {
                    q.push_batch(batch, n);
                }
            }
            // release: pairs with the consumers' acquire load below, which
            // then drain what is left.
            producing.fetch_sub(1, std::memory_order_release);
        });
    }
    for (unsigned c = 0; c < consumers; ++c) {
        ts.emplace_back([&, c] {
            std::vector<std::uintptr_t> last(producers, 0);
            std::uintptr_t out[128];
            for (;;) {
                bool finished = producing.load(std::memory_order_acquire) == 0;
                std::size_t n = q.pop_batch(out, c * 41 % 128 + 1);
                for (std::size_t i = 0; i < n; ++i) {
                    std::uintptr_t p = out[i] >> 32;
                    std::uintptr_t seq = out[i] & 0xffffffffu;
                    ASSERT_LT(p, producers);
                    ASSERT_GE(seq, 1u);
                    ASSERT_LE(seq, per_producer);
                    ASSERT_GT(seq, last[p]) << "producer " << p << " out of order";
                    last[p] = seq;
                    ASSERT_EQ(seen[p * per_producer + seq - 1].fetch_add(1), 0)
                        << "item taken twice";
                }
                taken.fetch_add(n, std::memory_order_relaxed);
                if (n == 0 && finished) break;
            }
        });
    }
    for (auto& t : ts)
        t.join();
    EXPECT_EQ(taken.load(), std::uint64_t{producers} * per_producer);
    EXPECT_EQ(q.size_approx(), 0u);
    EXPECT_LE(q.segments(), 2u);
}

}  // namespace
