// WEFT_ASSERT (weft/detail/assert.hpp): a broken invariant stops the
// program naming itself, and the setting reaches code built against weft.
#include <string>

#include <gtest/gtest.h>

#include <weft/detail/assert.hpp>

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

}  // namespace
