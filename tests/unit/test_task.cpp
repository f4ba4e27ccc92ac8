// task<T>: laziness, inline awaiting, results of every kind, exceptions, and
// deep await chains.
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

weft::task<int> answer(int* runs) {
    ++*runs;
    co_return 42;
}

// What every coroutine frame carries for being a task (its promise): the
// future, the task's state (its context pointer included), and the task
// dump's two fields. idle_memory counts it for each idle task; it must not
// grow by accident (a field added in the wrong place costs 8 bytes of
// padding).
TEST(Task, PromiseOverheadStaysAt104Bytes) {
#if defined(__cpp_lib_source_location)
    EXPECT_LE(sizeof(weft::detail::task_promise<void>), 104u);
#else
    // Without std::source_location (Clang 14 on libstdc++ 12) the location's
    // stand-in takes 16 bytes more (detail/source_location.hpp).
    EXPECT_LE(sizeof(weft::detail::task_promise<void>), 120u);
#endif
    EXPECT_LE(sizeof(weft::detail::task_record), 96u);
}

TEST(Task, CreatingRunsNothing) {
    int runs = 0;
    {
        weft::task<int> t = answer(&runs);
        EXPECT_TRUE(t.valid());
    }
    EXPECT_EQ(runs, 0);  // destroyed unstarted: nothing ran, nothing leaked (ASan)
}

TEST(Task, AwaitRunsInlineAndReturnsTheResult) {
    int runs = 0;
    int got = weft::run([](int* r) -> weft::task<int> { co_return co_await answer(r); }(&runs));
    EXPECT_EQ(got, 42);
    EXPECT_EQ(runs, 1);
}

weft::task<void> throws_runtime() {
    co_await weft::sleep(0);
    throw std::runtime_error("inner failed");
}

TEST(Task, ExceptionsPropagateThroughAwait) {
    auto outer = []() -> weft::task<std::string> {
        try {
            co_await throws_runtime();
        } catch (const std::runtime_error& e) {
            co_return std::string("caught ") + e.what();
        }
        co_return "not caught";
    };
    EXPECT_EQ(weft::run(outer()), "caught inner failed");
}

TEST(Task, MoveOnlyResults) {
    auto make = []() -> weft::task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); };
    auto outer = [&]() -> weft::task<int> {
        std::unique_ptr<int> p = co_await make();
        auto h = weft::create_task(make());
        std::unique_ptr<int> q = co_await std::move(h);  // moved out of the task
        co_return *p + *q;
    };
    EXPECT_EQ(weft::run(outer()), 14);
}

TEST(Task, ReferenceResults) {
    static int shared = 5;
    auto ref = []() -> weft::task<int&> { co_return shared; };
    auto outer = [&]() -> weft::task<void> {
        int& r = co_await ref();
        r = 9;
        auto h = weft::create_task(ref());
        int& r2 = co_await h;
        EXPECT_EQ(&r2, &shared);
    };
    weft::run(outer());
    EXPECT_EQ(shared, 9);
}

TEST(Task, AwaitingTwiceRaises) {
    int runs = 0;
    auto outer = [&]() -> weft::task<void> {
        weft::task<int> t = answer(&runs);
        EXPECT_EQ(co_await t, 42);
        EXPECT_THROW(co_await t, weft::invalid_state_error);
    };
    weft::run(outer());
    EXPECT_EQ(runs, 1);
}

TEST(Task, AwaitingAnEmptyTaskRaises) {
    auto outer = []() -> weft::task<void> {
        weft::task<int> empty;
        EXPECT_FALSE(empty.valid());
        EXPECT_THROW(co_await empty, weft::invalid_state_error);
        weft::task<int> moved = []() -> weft::task<int> { co_return 1; }();
        weft::task<int> other = std::move(moved);
        EXPECT_THROW(co_await moved, weft::invalid_state_error);  // NOLINT: testing use after move
        EXPECT_EQ(co_await other, 1);
    };
    weft::run(outer());
}

weft::task<long> depth(long n) {
    if (n == 0) co_return 0;
    long below = co_await depth(n - 1);
    co_return below + 1;
}

TEST(Task, MillionDeepAwaitChainNeitherOverflowsNorLeaks) {
    // Frames: ~100 MB at the deepest point; all freed (LSan checks in asan).
    EXPECT_EQ(weft::run(depth(1'000'000)), 1'000'000);
}

weft::task<long> depth_with_suspends(long n) {
    if (n == 0) {
        co_await weft::sleep(0);  // suspend at the bottom: the chain resumes from the loop
        co_return 0;
    }
    co_return co_await depth_with_suspends(n - 1) + 1;
}

TEST(Task, DeepChainResumedFromTheLoop) {
    EXPECT_EQ(weft::run(depth_with_suspends(200'000)), 200'000);
}

}  // namespace
