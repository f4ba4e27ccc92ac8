// The frame pool: reuse, size classes, and frees from other threads.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include <weft/detail/frame_allocator.hpp>

namespace {

using weft::detail::pool_allocate;
using weft::detail::pool_deallocate;

TEST(FramePool, FreedBlocksAreReusedWithinASizeClass) {
#if WEFT_SANITIZED
    GTEST_SKIP() << "the pool passes through to malloc under sanitizers";
#else
    void* a = pool_allocate(100);
    pool_deallocate(a, 100);
    void* b = pool_allocate(112);  // same 16-byte class as 100
    EXPECT_EQ(a, b);
    pool_deallocate(b, 112);
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

}  // namespace
