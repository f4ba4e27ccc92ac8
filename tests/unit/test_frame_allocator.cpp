// The frame pool: reuse, size classes, frees from other threads, and giving
// memory back (trim, threads that exit, loops that go idle).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/detail/frame_allocator.hpp>
#include <weft/future.hpp>
#include <weft/memory.hpp>
#include <weft/run.hpp>
#include <weft/sleep.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

namespace {

using weft::detail::pool_allocate;
using weft::detail::pool_chunk_bytes;
using weft::detail::pool_deallocate;
using weft::detail::pool_put;
using weft::detail::pool_reserve_bytes;
using weft::detail::pool_take;

std::size_t held() {
    return weft::frame_pool_statistics().held_bytes;
}

TEST(FramePool, FreedBlocksAreReusedWithinASizeClass) {
#if WEFT_SANITIZED
    GTEST_SKIP() << "the pool passes through to malloc under sanitizers";
#else
    void* a = pool_allocate(100);
    pool_deallocate(a, 100);
    void* b = pool_allocate(104);  // same 8-byte class as 100
    EXPECT_EQ(a, b);
    pool_deallocate(b, 104);
#endif
}

TEST(FramePool, ObjectsGetTheAlignmentTheirSizeAllows) {
#if WEFT_SANITIZED
    GTEST_SKIP() << "the pool passes through to malloc under sanitizers";
#else
    // Sizes that alternate between odd and even multiples of 8 carve the
    // chunk at 8-byte steps: a size that is a multiple of 16 (and so may be
    // a 16-aligned type's) must still come 16-aligned, an odd multiple of 8
    // takes only its own size, and the 8 bytes skipped to realign are an
    // object of the 8-byte class, not lost (trimming counts every byte).
    // Sizes no other test or runtime object uses, so each carve is fresh.
    std::vector<std::pair<void*, std::size_t> > got;
    for (int i = 0; i < 200; ++i) {
        for (std::size_t size : {std::size_t{1000}, std::size_t{1008}}) {
            void* p = pool_allocate(size);
            got.emplace_back(p, size);
            if (size % 16 == 0) {
                EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u) << size;
            } else {
                EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 8, 0u) << size;
            }
        }
    }
    // The last realignment's 8 bytes are the 8-byte class's newest object:
    // they lie just below an object that was realigned.
    void* sliver = pool_allocate(8);
    bool below_one = false;
    for (auto [p, size] : got)
        below_one |= size == 1008 && static_cast<char*>(sliver) + 8 == static_cast<char*>(p);
    EXPECT_TRUE(below_one) << "the 8 bytes skipped to realign went missing";
    // No two objects overlap: each keeps the bytes written into it.
    for (std::size_t i = 0; i < got.size(); ++i)
        std::memset(got[i].first, static_cast<int>(i % 251), got[i].second);
    std::memset(sliver, 0xff, 8);
    for (std::size_t i = 0; i < got.size(); ++i) {
        auto* bytes = static_cast<unsigned char*>(got[i].first);
        for (std::size_t b = 0; b < got[i].second; ++b)
            ASSERT_EQ(bytes[b], i % 251) << "object " << i << " byte " << b;
        pool_deallocate(got[i].first, got[i].second);
    }
    pool_deallocate(sliver, 8);
#endif
}

TEST(FramePool, LargeAndTinyRequestsWork) {
    for (std::size_t size : {1u, 16u, 17u, 1024u, 1025u, 100000u}) {
        void* p = pool_allocate(size);
        std::memset(p, 0xab, size);
        pool_deallocate(p, size);
    }
}

TEST(FramePool, ReservedMemoryStopsGrowingInSteadyState) {
#if WEFT_SANITIZED
    GTEST_SKIP() << "the pool passes through to malloc under sanitizers";
#else
    std::vector<void*> ps(10000);
    for (auto& p : ps)
        p = pool_allocate(96);
    for (auto& p : ps)
        pool_deallocate(p, 96);
    std::size_t reserved = weft::detail::pool_reserved_bytes();
    for (int round = 0; round < 10; ++round) {
        for (auto& p : ps)
            p = pool_allocate(96);
        for (auto& p : ps)
            pool_deallocate(p, 96);
    }
    EXPECT_EQ(weft::detail::pool_reserved_bytes(), reserved);
#endif
}

// The pool itself (pool_take/pool_put), so this runs under sanitizers too.
TEST(FramePool, TrimReturnsChunksWhoseObjectsAreAllFreeAndKeepsTheRest) {
    weft::trim();
    const std::size_t base = held();
    // The whole free chunks the trim kept (the warm reserve): the takes
    // below use them first, so they do not add to what the pool holds.
    const std::size_t reserve = weft::frame_pool_statistics().reserve_bytes;
    constexpr std::size_t count = 100'000, size = 192;  // about 19 MB
    std::vector<unsigned char*> ps(count);
    for (std::size_t i = 0; i < count; ++i) {
        ps[i] = static_cast<unsigned char*>(pool_take(size));
        std::memset(ps[i], static_cast<int>(i & 0xff), size);
    }
    ASSERT_GE(held() + reserve, base + count * size);
    // Keep one object in every 2000 (each in its own chunk): those chunks stay.
    std::set<std::uintptr_t> pinned;
    for (std::size_t i = 0; i < count; ++i) {
        if (i % 2000 == 0) {
            pinned.insert(reinterpret_cast<std::uintptr_t>(ps[i]) & ~(pool_chunk_bytes - 1));
        } else {
            pool_put(ps[i], size);
        }
    }
    std::size_t returned = weft::trim();
    EXPECT_GT(returned, count * size / 2);
    EXPECT_GE(held(), pinned.size() * pool_chunk_bytes);
    EXPECT_LE(held(), base + pool_reserve_bytes + pinned.size() * pool_chunk_bytes);
    for (std::size_t i = 0; i < count; i += 2000) {
        for (std::size_t b = 0; b < size; ++b)
            ASSERT_EQ(ps[i][b], static_cast<unsigned char>(i & 0xff)) << "object " << i;
        pool_put(ps[i], size);
    }
    weft::trim();
    EXPECT_LE(held(), base + pool_reserve_bytes);
    EXPECT_GE(weft::frame_pool_statistics().returned_bytes, returned);
}

// A thread's lists and chunk are handed in when it exits, and frees made on
// another thread than the allocating one land on that thread's lists: all of
// it can be trimmed afterwards.
TEST(FramePool, MemoryOfExitedThreadsAndCrossThreadFreesIsTrimmed) {
    weft::trim();
    const std::size_t base = held();
    const std::size_t reserve = weft::frame_pool_statistics().reserve_bytes;  // reused first
    constexpr std::size_t count = 50'000, size = 256;
    std::vector<void*> ps(count);
    std::thread producer([&] {
        for (auto& p : ps)
            p = pool_take(size);
    });
    producer.join();
    std::thread consumer([&] {
        for (void* p : ps)
            pool_put(p, size);
    });
    consumer.join();
    ASSERT_GE(held() + reserve, base + count * size);
    weft::trim();
    EXPECT_LE(held(), base + pool_reserve_bytes);
}

// After a trim, refills take the objects of the fullest chunks first and
// leave the emptiest alone, so that it can become wholly free. Frees from
// many tasks arrive interleaved (Go mode frees on whichever worker finishes a
// task); without the trim's rebatching every refill took objects of every
// chunk and pinned them all.
TEST(FramePool, AfterATrimRefillsComeFromTheFullestChunks) {
    constexpr std::size_t size = 48;  // a class no coroutine frame uses
    const std::size_t per_chunk = pool_chunk_bytes / size;
    std::vector<void*> ps(3 * per_chunk);
    std::thread producer([&] {  // carves three chunks, then retires them
        for (auto& p : ps)
            p = pool_take(size);
    });
    producer.join();
    auto chunk = [](const void* p) {
        return reinterpret_cast<std::uintptr_t>(p) / pool_chunk_bytes;
    };
    std::vector<std::uintptr_t> chunks;  // in the order they were carved
    for (void* p : ps)
        if (std::find(chunks.begin(), chunks.end(), chunk(p)) == chunks.end())
            chunks.push_back(chunk(p));
    ASSERT_EQ(chunks.size(), 3u) << "the producer's objects fill three fresh chunks";
    // The first chunk keeps most objects in use, the third fewer, the second none.
    const std::size_t keep[3] = {1000, 0, 700};
    std::size_t seen[3] = {0, 0, 0};
    std::vector<void*> in_use, freed[3];
    for (void* p : ps) {
        std::size_t which = static_cast<std::size_t>(
            std::find(chunks.begin(), chunks.end(), chunk(p)) - chunks.begin());
        (seen[which]++ < keep[which] ? in_use : freed[which]).push_back(p);
    }
    std::thread consumer([&] {  // frees them interleaved, then exits
        for (std::size_t i = 0; i < per_chunk; ++i)
            for (auto& f : freed)
                if (i < f.size()) pool_put(f[i], size);
    });
    consumer.join();
    weft::trim();
    const std::uintptr_t fullest = chunks[0], emptiest = chunks[1];
    std::vector<void*> refill(weft::detail::pool_list_limit / 2);
    std::thread taker([&] {
        for (auto& p : refill)
            p = pool_take(size);
    });
    taker.join();
    std::size_t from_fullest = 0;
    for (void* p : refill) {
        EXPECT_NE(chunk(p), emptiest) << "a refill took an object of the emptiest chunk";
        from_fullest += chunk(p) == fullest ? 1 : 0;
    }
    EXPECT_GT(from_fullest, 0u);
    for (void* p : refill)
        pool_put(p, size);
    for (void* p : in_use)
        pool_put(p, size);
}

// Without trim(): a loop that goes idle hands in its lists and returns what
// the pool has held unused for an idle period (shortened here to 20 ms).
void idle_loop_gives_memory_back([[maybe_unused]] int threads) {
#if WEFT_SANITIZED
    GTEST_SKIP() << "the runtime allocates with operator new under sanitizers";
#else
    struct period_guard {
        period_guard() { weft::detail::pool_set_idle_period(20'000'000); }
        ~period_guard() { weft::detail::pool_set_idle_period(0); }
    } guard;
    struct outcome {
        std::size_t base, peak, after;
    };
    auto main_task = [threads]() -> weft::task<outcome> {
        weft::trim();
        outcome o{held(), 0, 0};
        constexpr int n = 50'000;  // about 10 MB of frames
        weft::future<void> go;
        std::vector<weft::task_handle<void> > hs;
        hs.reserve(n);
        for (int i = 0; i < n; ++i)
            hs.push_back(weft::create_task(
                [](weft::future<void>& f) -> weft::task<void> { co_await f; }(go)));
        co_await weft::sleep(std::chrono::milliseconds(1));
        o.peak = held();
        go.set_result();
        for (auto& h : hs)
            co_await h;
        hs.clear();
        // Idle: only this task's sleeps. The slack: a chunk per thread
        // carved since (this task's timers, the workers' wake-ups).
        const std::size_t bound =
            o.base + pool_reserve_bytes + static_cast<std::size_t>(threads + 1) * pool_chunk_bytes;
        for (int i = 0; i < 500 && held() > bound; ++i)
            co_await weft::sleep(std::chrono::milliseconds(10));
        o.after = held();
        co_return o;
    };
    outcome o = weft::run(main_task(), weft::run_options{.threads = threads});
    EXPECT_GE(o.peak, o.base + 5'000'000) << "the tasks' frames come from the pool";
    EXPECT_LE(o.after, o.base + pool_reserve_bytes +
                           static_cast<std::size_t>(threads + 1) * pool_chunk_bytes);
#endif
}

TEST(FramePool, IdleAsyncioLoopGivesMemoryBack) {
    idle_loop_gives_memory_back(1);
}

TEST(FramePool, IdleGoModeWorkersGiveMemoryBack) {
    idle_loop_gives_memory_back(3);
}

}  // namespace
