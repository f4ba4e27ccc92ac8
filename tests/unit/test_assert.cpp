// WEFT_ASSERT (weft/detail/assert.hpp) and the deque's handle types: a broken
// invariant stops the program naming itself, the setting reaches code built
// against weft, and a stealer's type has no owner operations.
#include <string>
#include <type_traits>

#include <gtest/gtest.h>

#include <weft/detail/assert.hpp>
#include <weft/detail/work_queue.hpp>

namespace {

TEST(Assert, TheBuildsSettingReachesCodeBuiltAgainstWeft) {
    // WEFT_ASSERTIONS is a public definition of weft::scheduler: a test built
    // against it sees what the library was built with (CMake passes the
    // option's value separately, to compare).
    EXPECT_EQ(WEFT_ASSERTIONS, WEFT_TEST_EXPECT_ASSERTIONS);
}

TEST(Assert, ABrokenInvariantAbortsNamingWhereAndWhat) {
    if (!WEFT_ASSERTIONS) GTEST_SKIP() << "assertions are compiled out in this build";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    int answer = 41;
    EXPECT_DEATH(WEFT_ASSERT(answer == 42, "the answer is 42"),
                 "weft: invariant broken at .*test_assert\\.cpp:[0-9]+: the answer is 42 "
                 "\\(answer == 42\\)");
}

TEST(Assert, TheConditionIsEvaluatedOnlyWhenChecked) {
    int evaluated = 0;
    WEFT_ASSERT(++evaluated == 1, "evaluated once");
    EXPECT_EQ(evaluated, WEFT_ASSERTIONS ? 1 : 0);
}

// ---- the deque's two sides as two types

using queue = weft::detail::work_queue<4>;

template <class H>
concept can_pop = requires(H h) {
    h.pop();
};
template <class H>
concept can_push = requires(H h) {
    h.try_push(1);
};
template <class H>
concept can_steal = requires(H h, queue::owner_handle dst, std::uint32_t n) {
    h.steal_into(dst, n);
};

static_assert(!can_pop<queue::stealer_handle> && !can_push<queue::stealer_handle>,
              "a stealer must not reach the owner's end of the deque");
static_assert(can_pop<queue::owner_handle> && can_push<queue::owner_handle>);
static_assert(can_steal<queue::stealer_handle> && !can_steal<queue::owner_handle>);
static_assert(!can_pop<queue> && !can_push<queue>, "the queue itself is used through a handle");
static_assert(!std::is_constructible_v<queue::stealer_handle, queue&>,
              "handles come from the queue, not from outside");

TEST(WorkQueueHandles, AStealTakesTheOldestIntoTheThiefsOwnDeque) {
    queue victim, mine;
    auto owner = victim.owner();
    for (std::uintptr_t v = 1; v <= 4; ++v)
        ASSERT_TRUE(owner.try_push(v));
    std::uint32_t stolen = 0;
    EXPECT_EQ(victim.stealer().steal_into(mine.owner(), stolen), 1u);  // the oldest runs now
    EXPECT_EQ(stolen, 2u);                                             // half of four
    EXPECT_EQ(mine.owner().pop(), 2u);                                 // the other one waits
    EXPECT_EQ(owner.pop(), 4u);                                        // newest first
    EXPECT_EQ(owner.pop(), 3u);
    EXPECT_EQ(owner.pop(), 0u);
}

}  // namespace
