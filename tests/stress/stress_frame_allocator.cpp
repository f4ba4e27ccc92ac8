// The frame pool under threads (runs under ThreadSanitizer in CI).
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/detail/frame_allocator.hpp>

namespace {

using weft::detail::pool_allocate;
using weft::detail::pool_deallocate;

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
        pool_deallocate(q, size);
    };
    auto worker = [&](int me) {
        int other = 1 - me;
        for (int i = 0; i < rounds; ++i) {
            std::size_t size = 32 + static_cast<std::size_t>(i % 30) * 16;  // room for the tag
            auto* p = static_cast<unsigned char*>(pool_allocate(size));
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

}  // namespace
