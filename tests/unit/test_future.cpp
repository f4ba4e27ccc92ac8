// future<T>: asyncio.Future's states, callbacks and awaiting.
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

TEST(Future, SetResultOnceThenInvalidState) {
    weft::event_loop loop;
    weft::future<int> f(loop);
    EXPECT_FALSE(f.done());
    EXPECT_THROW(f.result(), weft::invalid_state_error);
    EXPECT_THROW((void)f.exception(), weft::invalid_state_error);
    f.set_result(4);
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(), 4);
    EXPECT_EQ(f.exception(), nullptr);
    EXPECT_THROW(f.set_result(5), weft::invalid_state_error);
    EXPECT_THROW(f.set_exception(std::runtime_error("x")), weft::invalid_state_error);
    EXPECT_FALSE(f.cancel());
    EXPECT_EQ(f.result(), 4);  // nothing that was accepted is lost
}

TEST(Future, SetExceptionIsRaisedByResult) {
    weft::event_loop loop;
    weft::future<std::string> f(loop);
    f.set_exception(std::invalid_argument("bad input"));
    EXPECT_THROW(f.result(), std::invalid_argument);
    EXPECT_NE(f.exception(), nullptr);
    EXPECT_THROW(f.set_exception(std::exception_ptr{}), std::invalid_argument);  // null is refused
}

TEST(Future, CancelCompletesAsCancelledWithTheMessage) {
    weft::event_loop loop;
    weft::future<void> f(loop);
    EXPECT_TRUE(f.cancel("stop"));
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(f.done());
    try {
        f.result();
        FAIL() << "result() of a cancelled future must raise";
    } catch (const weft::cancelled_error& e) {
        EXPECT_EQ(e.message(), "stop");
    }
    EXPECT_THROW((void)f.exception(), weft::cancelled_error);
}

TEST(Future, CallbacksAreScheduledInOrderAndRemovedByValue) {
    weft::event_loop loop;
    weft::future<int> f(loop);
    std::vector<std::string> seen;
    struct cb {
        std::vector<std::string>* seen;
        std::string name;
        void operator()(weft::future<int>& fut) const {
            seen->push_back(name + std::to_string(fut.result()));
        }
        bool operator==(const cb&) const = default;
    };
    f.add_done_callback(cb{&seen, "a"});
    f.add_done_callback(cb{&seen, "b"});
    f.add_done_callback(cb{&seen, "a"});
    EXPECT_EQ(f.remove_done_callback(cb{&seen, "a"}), 2u);
    EXPECT_EQ(f.remove_done_callback(cb{&seen, "zzz"}), 0u);
    f.set_result(1);
    EXPECT_TRUE(seen.empty());  // scheduled, not run synchronously
    loop.run_until([&] { return !seen.empty(); });
    EXPECT_EQ(seen, (std::vector<std::string>{"b1"}));
    f.add_done_callback(cb{&seen, "late"});  // on a done future: scheduled at once
    loop.run_until([&] { return seen.size() == 2; });
    EXPECT_EQ(seen.back(), "late1");
    EXPECT_EQ(f.remove_done_callback(cb{&seen, "b"}), 0u);  // done: nothing to remove
}

void plain_callback(weft::future<int>&) {}

TEST(Future, FunctionPointersAndCaptureLessLambdasCompareEqual) {
    weft::event_loop loop;
    weft::future<int> f(loop);
    auto lambda = [](weft::future<int>&) {};
    f.add_done_callback(&plain_callback);
    f.add_done_callback(lambda);
    f.add_done_callback(&plain_callback);
    EXPECT_EQ(f.remove_done_callback(&plain_callback), 2u);
    EXPECT_EQ(f.remove_done_callback(lambda), 1u);
}

TEST(Future, ManyAwaitersAllResumeWithTheResult) {
    auto main_task = []() -> weft::task<int> {
        weft::future<int> f;
        std::vector<weft::task_handle<int>> waiters;
        for (int i = 0; i < 10; ++i) {
            waiters.push_back(
                weft::create_task([](weft::future<int> fut, int k) -> weft::task<int> {
                    co_return co_await fut + k;
                }(f, i)));
        }
        co_await weft::sleep(0);
        f.set_result(100);
        int sum = 0;
        for (auto& w : waiters)
            sum += co_await w;
        co_return sum;
    };
    EXPECT_EQ(weft::run(main_task()), 10 * 100 + 45);
}

TEST(Future, CancellingTheAwaitingTaskCancelsTheFuture) {
    // asyncio: the awaited future is the task's _fut_waiter, and is cancelled.
    auto main_task = []() -> weft::task<void> {
        weft::future<int> f;
        auto t = weft::create_task(
            [](weft::future<int> fut) -> weft::task<int> { co_return co_await fut; }(f));
        co_await weft::sleep(0);
        t.cancel("enough");
        try {
            co_await t;
        } catch (const weft::cancelled_error& e) {
            EXPECT_EQ(e.message(), "enough");
        }
        EXPECT_TRUE(t.cancelled());
        EXPECT_TRUE(f.cancelled());
    };
    weft::run(main_task());
}

TEST(Future, AFutureCanOutliveItsLoop) {
    weft::future<int> kept = [] {
        weft::event_loop loop;
        weft::future<int> f(loop);
        f.set_result(9);
        return f;
    }();
    EXPECT_EQ(kept.result(), 9);
}

TEST(Future, AnUnretrievedExceptionIsReported) {
    weft::event_loop loop;
    std::vector<std::string> messages;
    loop.set_exception_handler([&](weft::event_loop&, const weft::exception_context& ctx) {
        messages.push_back(ctx.message + ": " + weft::describe(ctx.exception));
    });
    loop.run_until_complete([]() -> weft::task<void> {
        weft::future<int> f;
        f.set_exception(std::runtime_error("lost"));
        co_return;  // f dies here, nobody looked at its exception
    }());
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0], "Future exception was never retrieved: std::runtime_error: lost");
}

}  // namespace

namespace {
TEST(Future, RemoveDoneCallbackTakesAFunctionNameToo) {
    weft::event_loop loop;
    weft::future<int> f(loop);
    f.add_done_callback(plain_callback);
    EXPECT_EQ(f.remove_done_callback(plain_callback), 1u);
}
}  // namespace
