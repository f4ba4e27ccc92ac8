// event_loop: asyncio's iteration, callbacks, timers, cross-thread wake-ups,
// running and closing, error reporting.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

TEST(EventLoop, CallSoonIsFifoAndNewCallbacksWaitForTheNextIteration) {
    weft::event_loop loop;
    std::vector<std::string> seen;
    loop.call_soon([&] {
        seen.push_back("a");
        loop.call_soon([&] { seen.push_back("a2"); });
    });
    loop.call_soon([&] { seen.push_back("b"); });
    loop.run_until([&] { return seen.size() >= 2; });
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));  // one iteration ran exactly these
    loop.run_until([&] { return seen.size() >= 3; });
    EXPECT_EQ(seen.back(), "a2");
}

TEST(EventLoop, TimersFireInDeadlineOrderAndEqualDeadlinesInInsertionOrder) {
    weft::event_loop loop;
    std::vector<int> order;
    double when = loop.time() + 0.02;
    for (int i = 0; i < 5; ++i)
        loop.call_at(when, [&order, i] { order.push_back(i); });
    loop.call_later(0.01, [&] { order.push_back(-1); });
    loop.call_later(0.03, [&] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<int>{-1, 0, 1, 2, 3, 4}));
}

TEST(EventLoop, TimersNeverFireEarly) {
    weft::event_loop loop;
    double start = loop.time();
    double fired = 0;
    loop.call_later(std::chrono::milliseconds(30), [&] {
        fired = loop.time();
        loop.stop();
    });
    loop.run_forever();
    EXPECT_GE(fired - start, 0.030);
}

TEST(EventLoop, CancelledHandlesDoNotRun) {
    weft::event_loop loop;
    bool ran_soon = false, ran_later = false;
    weft::handle h = loop.call_soon([&] { ran_soon = true; });
    weft::timer_handle t = loop.call_later(0.001, [&] { ran_later = true; });
    EXPECT_FALSE(h.cancelled());
    h.cancel();
    t.cancel();
    EXPECT_TRUE(h.cancelled());
    EXPECT_TRUE(t.cancelled());
    loop.call_later(0.01, [&] { loop.stop(); });
    loop.run_forever();
    EXPECT_FALSE(ran_soon);
    EXPECT_FALSE(ran_later);
}

TEST(EventLoop, ManyCancelledTimersAreCompacted) {
    weft::event_loop loop;
    int fired = 0;
    std::vector<weft::timer_handle> handles;
    for (int i = 0; i < 1000; ++i)
        handles.push_back(loop.call_later(10.0 + i, [&] { ++fired; }));
    for (auto& h : handles)
        h.cancel();
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();  // the heap is rebuilt without them; nothing fires
    EXPECT_EQ(fired, 0);
}

TEST(EventLoop, NegativeDelaysActAsZero) {
    weft::event_loop loop;
    bool ran = false;
    loop.call_later(-5.0, [&] {
        ran = true;
        loop.stop();
    });
    loop.run_forever();
    EXPECT_TRUE(ran);
}

TEST(EventLoop, TimeIsMonotonicSeconds) {
    weft::event_loop loop;
    double a = loop.time();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    double b = loop.time();
    EXPECT_GT(b, a);
    EXPECT_LT(b - a, 1.0);
}

TEST(EventLoop, CallSoonThreadsafeWakesABlockedLoop) {
    weft::event_loop loop;
    std::atomic<bool> ran{false};
    // Nothing scheduled: the loop blocks in epoll_wait with no timeout.
    std::thread other([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        loop.call_soon_threadsafe([&] {
            ran = true;
            loop.stop();
        });
    });
    auto t0 = std::chrono::steady_clock::now();
    loop.run_forever();
    other.join();
    EXPECT_TRUE(ran);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(EventLoop, CallSoonThreadsafeFromManyThreadsLosesNothing) {
    weft::event_loop loop;
    constexpr int threads = 4, each = 2000;
    std::atomic<int> count{0};
    std::vector<std::thread> pushers;
    for (int t = 0; t < threads; ++t) {
        pushers.emplace_back([&] {
            for (int i = 0; i < each; ++i)
                loop.call_soon_threadsafe([&] { ++count; });
        });
    }
    loop.run_until([&] { return count.load() == threads * each; });
    for (auto& p : pushers)
        p.join();
    EXPECT_EQ(count.load(), threads * each);
}

TEST(EventLoop, RunUntilCompleteReturnsTheResultOrRethrows) {
    weft::event_loop loop;
    EXPECT_EQ(loop.run_until_complete([]() -> weft::task<int> { co_return 3; }()), 3);
    EXPECT_THROW(loop.run_until_complete([]() -> weft::task<void> {
        co_await weft::sleep(0);
        throw std::out_of_range("x");
    }()),
                 std::out_of_range);
    EXPECT_FALSE(loop.is_running());
}

TEST(EventLoop, StopBeforeTheTaskCompletesIsAnError) {
    weft::event_loop loop;
    loop.call_later(0.01, [&] { loop.stop(); });
    EXPECT_THROW(loop.run_until_complete([]() -> weft::task<void> { co_await weft::sleep(10); }()),
                 std::runtime_error);
    loop.close();  // the pending task is reported and destroyed
}

TEST(EventLoop, ClosingRules) {
    weft::event_loop loop;
    loop.close();
    loop.close();  // idempotent
    EXPECT_TRUE(loop.is_closed());
    EXPECT_THROW(loop.call_soon([] {}), std::logic_error);
    EXPECT_THROW(loop.call_later(1.0, [] {}), std::logic_error);
    EXPECT_THROW(loop.run_forever(), std::logic_error);
}

TEST(EventLoop, CannotCloseOrNestWhileRunning) {
    weft::event_loop loop;
    bool close_failed = false, nested_failed = false;
    loop.call_soon([&] {
        try {
            loop.close();
        } catch (const std::logic_error&) {
            close_failed = true;
        }
        weft::event_loop other;
        try {
            other.run_forever();
        } catch (const std::logic_error&) {
            nested_failed = true;
        }
        loop.stop();
    });
    loop.run_forever();
    EXPECT_TRUE(close_failed);
    EXPECT_TRUE(nested_failed);
}

TEST(EventLoop, ExceptionsInCallbacksGoToTheHandler) {
    weft::event_loop loop;
    std::vector<std::string> messages;
    loop.set_exception_handler([&](weft::event_loop&, const weft::exception_context& ctx) {
        messages.push_back(ctx.message + ": " + weft::describe(ctx.exception));
    });
    loop.call_soon([] { throw std::runtime_error("boom"); });
    bool after = false;
    loop.call_soon([&] {
        after = true;
        loop.stop();
    });
    loop.run_forever();
    EXPECT_TRUE(after);  // the loop went on
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0], "Exception in callback: std::runtime_error: boom");
}

TEST(EventLoop, DebugModeReportsSlowStepsWithTheTaskName) {
    weft::event_loop loop;
    loop.set_debug(true);
    loop.set_slow_callback_duration(0.02);
    std::vector<weft::exception_context> reports;
    loop.set_exception_handler(
        [&](weft::event_loop&, const weft::exception_context& ctx) { reports.push_back(ctx); });
    auto slow = []() -> weft::task<void> {
        std::this_thread::sleep_for(std::chrono::milliseconds(40));  // blocks the loop
        co_return;
    };
    auto main_task = [&]() -> weft::task<void> {
        auto t = weft::create_task(slow(), "sluggish");
        co_await t;
    };
    loop.run_until_complete(main_task());
    ASSERT_FALSE(reports.empty());
    EXPECT_EQ(reports[0].task_name, "sluggish");
    EXPECT_NE(reports[0].message.find("Executing <Task name='sluggish'> took 0.0"),
              std::string::npos)
        << reports[0].message;
}

TEST(EventLoop, GetRunningLoopOutsideALoopRaises) {
    EXPECT_THROW(weft::get_running_loop(), weft::no_running_loop_error);
    EXPECT_THROW(weft::create_task([]() -> weft::task<void> { co_return; }()),
                 weft::no_running_loop_error);
}

}  // namespace
