// weft::run and weft::runner: results, shutdown of leftover tasks, options.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

TEST(Run, ReturnsTheResultOrRethrows) {
    EXPECT_EQ(weft::run([]() -> weft::task<int> { co_return 1; }()), 1);
    EXPECT_THROW(weft::run([]() -> weft::task<void> {
                     throw std::length_error("main failed");
                     co_return;
                 }()),
                 std::length_error);
}

TEST(Run, CancelsLeftoverTasksAndRunsTheirCleanup) {
    bool cleanup_ran = false;
    weft::run([](bool* flag) -> weft::task<void> {
        weft::create_task([](bool* f) -> weft::task<void> {
            bool cancelled = false;
            try {
                co_await weft::sleep(100);
            } catch (const weft::cancelled_error&) {
                cancelled = true;
            }
            if (cancelled) {
                co_await weft::sleep(0.001);  // cleanup may await, as in asyncio
                *f = true;
                throw weft::cancelled_error();
            }
        }(flag));
        co_await weft::sleep(0.001);
    }(&cleanup_ran));
    EXPECT_TRUE(cleanup_ran);
}

TEST(Run, LeftoverFailuresAtShutdownAreReported) {
    weft::runner r;
    std::vector<std::string> messages;
    r.get_loop().set_exception_handler([&](weft::event_loop&, const weft::exception_context& c) {
        messages.push_back(c.message);
    });
    r.run([]() -> weft::task<void> {
        weft::create_task([]() -> weft::task<void> {
            try {
                co_await weft::sleep(100);
            } catch (const weft::cancelled_error&) {
                throw std::runtime_error("cleanup failed");
            }
        }());
        co_await weft::sleep(0.001);
    }());
    r.close();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0], "unhandled exception during weft::run() shutdown");
}

TEST(Run, RunnerRunsSeveralCoroutinesOnOneLoop) {
    weft::runner r;
    weft::event_loop* first = nullptr;
    r.run([](weft::event_loop** l) -> weft::task<void> {
        *l = &weft::get_running_loop();
        co_return;
    }(&first));
    int second = r.run([](weft::event_loop* l) -> weft::task<int> {
        co_return &weft::get_running_loop() == l ? 2 : -1;
    }(first));
    EXPECT_EQ(second, 2);
    r.close();
    EXPECT_THROW(r.run([]() -> weft::task<void> { co_return; }()), std::logic_error);
}

TEST(Run, CannotRunInsideARunningLoop) {
    weft::run([]() -> weft::task<void> {
        EXPECT_THROW(weft::run([]() -> weft::task<void> { co_return; }()), std::logic_error);
        co_return;
    }());
}

TEST(Run, ThreadOptionsAreValidated) {
    EXPECT_THROW(weft::resolve_threads({.threads = -2}), std::invalid_argument);
    ::unsetenv("WEFT_THREADS");
    EXPECT_EQ(weft::resolve_threads({}), 1);
    EXPECT_EQ(weft::resolve_threads({.threads = 3}), 3);
    ::setenv("WEFT_THREADS", "4", 1);
    EXPECT_EQ(weft::resolve_threads({}), 4);
    EXPECT_EQ(weft::resolve_threads({.threads = 1}), 1);  // explicit wins
    for (const char* bad : {"0", "-1", "abc", "2x", "100000"}) {
        ::setenv("WEFT_THREADS", bad, 1);
        try {
            weft::resolve_threads({});
            ADD_FAILURE() << "accepted WEFT_THREADS=" << bad;
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
        }
    }
    ::unsetenv("WEFT_THREADS");
}

TEST(Run, DebugOptionReportsSlowSteps) {
    weft::runner r({.threads = 1, .debug = true});
    EXPECT_TRUE(r.get_loop().get_debug());
}

}  // namespace
