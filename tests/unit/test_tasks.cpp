// create_task and task handles: states, names, cancellation, diagnostics.
#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

using namespace std::chrono_literals;

weft::task<int> value_after(double delay, int v) {
    co_await weft::sleep(delay);
    co_return v;
}

TEST(Tasks, StartOnTheNextIterationAndCanBeAwaitedByMany) {
    auto main_task = []() -> weft::task<int> {
        bool started = false;
        auto t = weft::create_task([](bool* s) -> weft::task<int> {
            *s = true;
            co_return 5;
        }(&started));
        EXPECT_FALSE(started);
        auto a = weft::create_task(
            [](weft::task_handle<int> h) -> weft::task<int> { co_return co_await h; }(t));
        auto b = weft::create_task(
            [](weft::task_handle<int> h) -> weft::task<int> { co_return co_await h; }(t));
        co_return co_await a + co_await b + co_await t;
    };
    EXPECT_EQ(weft::run(main_task()), 15);
}

TEST(Tasks, NamesDefaultAndCanBeSet) {
    auto main_task = []() -> weft::task<void> {
        auto t = weft::create_task(value_after(0, 1));
        EXPECT_EQ(t.get_name().rfind("Task-", 0), 0u);
        t.set_name("worker");
        EXPECT_EQ(t.get_name(), "worker");
        auto named = weft::create_task(value_after(0, 1), "fetch");
        EXPECT_EQ(named.get_name(), "fetch");
        co_await t;
        co_await named;
    };
    weft::run(main_task());
}

TEST(Tasks, CurrentTaskAndAllTasks) {
    EXPECT_FALSE(weft::current_task());
    auto main_task = []() -> weft::task<void> {
        weft::task_ref me = weft::current_task();
        EXPECT_TRUE(me);
        auto t = weft::create_task(value_after(0.01, 1), "other");
        auto all = weft::all_tasks();
        EXPECT_EQ(all.size(), 2u);
        bool found_me = false, found_other = false;
        for (auto& r : all) {
            found_me = found_me || r == me;
            found_other = found_other || r.get_name() == "other";
        }
        EXPECT_TRUE(found_me && found_other);
        auto inner = [](weft::task_ref outer) -> weft::task<void> {
            EXPECT_TRUE(weft::current_task() == outer);  // inline awaits stay in the same task
            co_return;
        };
        co_await inner(me);
        co_await t;
    };
    weft::run(main_task());
}

TEST(Tasks, CancelBeforeTheFirstStepRunsNothing) {
    auto main_task = []() -> weft::task<void> {
        bool ran = false;
        auto t = weft::create_task([](bool* r) -> weft::task<void> {
            *r = true;
            co_return;
        }(&ran));
        EXPECT_TRUE(t.cancel());
        EXPECT_THROW(co_await t, weft::cancelled_error);
        EXPECT_FALSE(ran);
        EXPECT_TRUE(t.cancelled());
        EXPECT_FALSE(t.cancel());  // done: false
    };
    weft::run(main_task());
}

TEST(Tasks, ATaskMayCatchCancellationAndGoOn) {
    auto main_task = []() -> weft::task<void> {
        auto t = weft::create_task([]() -> weft::task<std::string> {
            std::string message = "not cancelled";
            try {
                co_await weft::sleep(10);
            } catch (const weft::cancelled_error& e) {
                EXPECT_EQ(weft::current_task().cancelling(), 1);
                EXPECT_EQ(weft::current_task().uncancel(), 0);
                message = "survived " + e.message();
            }
            co_await weft::sleep(0.001);  // still runs normally afterwards
            co_return message;
        }());
        co_await weft::sleep(0);
        t.cancel("go away");
        EXPECT_EQ(co_await t, "survived go away");
        EXPECT_FALSE(t.cancelled());
    };
    weft::run(main_task());
}

TEST(Tasks, SelfCancelTakesEffectAtTheNextSuspension) {
    auto main_task = []() -> weft::task<void> {
        auto t = weft::create_task([]() -> weft::task<int> {
            weft::current_task().cancel("self");
            int reached = 1;  // still running until the next suspension
            co_await weft::sleep(1);
            co_return reached;
        }());
        try {
            co_await t;
            ADD_FAILURE() << "expected cancellation";
        } catch (const weft::cancelled_error& e) {
            EXPECT_EQ(e.message(), "self");
        }
    };
    weft::run(main_task());
}

TEST(Tasks, CancelWhileRunningEndsCancelledEvenIfItReturns) {
    // asyncio: a task that returns with a cancel still pending ends cancelled.
    auto main_task = []() -> weft::task<void> {
        auto t = weft::create_task([]() -> weft::task<int> {
            weft::current_task().cancel();
            co_return 3;
        }());
        EXPECT_THROW(co_await t, weft::cancelled_error);
        EXPECT_TRUE(t.cancelled());
    };
    weft::run(main_task());
}

// Go mode: a cancel from another worker can land while the task's step
// runs. If the task still awaits, that await raises; if it returns first,
// its work is done (a read took bytes out of a socket) and it keeps its
// result: the cancel lost the race, as one arriving after the end would.
TEST(Tasks, GoModeCancelLandingMidStepRaisesAtTheNextAwaitOrLosesTheRace) {
    for (bool await_after : {false, true}) {
        std::atomic<bool> running{false}, cancel_sent{false};
        weft::run(
            [&]() -> weft::task<void> {
                auto t = weft::create_task(
                    [](std::atomic<bool>& r, std::atomic<bool>& c, bool again) -> weft::task<int> {
                        r.store(true);
                        while (!c.load())
                            std::this_thread::yield();
                        if (again) co_await weft::yield_now();
                        co_return 7;
                    }(running, cancel_sent, await_after));
                // t runs on another thread meanwhile (stolen, or this
                // worker's loop handed off by the monitor).
                while (!running.load())
                    std::this_thread::yield();
                EXPECT_TRUE(t.cancel());
                cancel_sent.store(true);
                if (await_after) {
                    EXPECT_THROW(co_await t, weft::cancelled_error);
                    EXPECT_TRUE(t.cancelled());
                } else {
                    EXPECT_EQ(co_await t, 7);
                    EXPECT_FALSE(t.cancelled());
                }
            }(),
            {.threads = 2});
    }
}

TEST(Tasks, CancelWakesASleeperAtOnce) {
    auto main_task = []() -> weft::task<void> {
        weft::event_loop& loop = weft::get_running_loop();
        auto t = weft::create_task(value_after(30, 1));
        co_await weft::sleep(0);
        double t0 = loop.time();
        t.cancel();
        EXPECT_THROW(co_await t, weft::cancelled_error);
        EXPECT_LT(loop.time() - t0, 1.0);
    };
    weft::run(main_task());
}

TEST(Tasks, ExceptionNeverRetrievedIsReportedWithTheTaskName) {
    weft::event_loop loop;
    std::vector<weft::exception_context> reports;
    loop.set_exception_handler(
        [&](weft::event_loop&, const weft::exception_context& ctx) { reports.push_back(ctx); });
    loop.run_until_complete([]() -> weft::task<void> {
        weft::create_task(
            []() -> weft::task<void> {
                throw std::logic_error("nobody looks");
                co_return;
            }(),
            "forgotten");
        co_await weft::sleep(0.01);
    }());
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].message, "Task exception was never retrieved");
    EXPECT_EQ(reports[0].task_name, "forgotten");
    EXPECT_EQ(weft::describe(reports[0].exception), "std::logic_error: nobody looks");
}

TEST(Tasks, ClosingALoopWithAPendingTaskReportsIt) {
    weft::event_loop loop;
    std::vector<std::string> messages;
    loop.set_exception_handler([&](weft::event_loop&, const weft::exception_context& ctx) {
        messages.push_back(ctx.message + " " + ctx.task_name);
    });
    bool cleaned_up = false;
    weft::task_handle<void> h = loop.create_task(
        [](bool* c) -> weft::task<void> {
            struct guard {
                bool* c;
                ~guard() { *c = true; }
            } g{c};
            co_await weft::sleep(100);
        }(&cleaned_up),
        "stuck");
    loop.run_until([] { return true; });  // nothing: the task has not started
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();  // it starts and sleeps
    loop.close();
    EXPECT_EQ(messages, (std::vector<std::string>{"Task was destroyed but it is pending! stuck"}));
    EXPECT_TRUE(h.cancelled());  // whoever holds a handle sees it ended
    h = {};
    EXPECT_TRUE(cleaned_up);  // its frame, and the locals in it, were destroyed
}

TEST(Tasks, AFrameTornDownWhileAwaitingAFutureLeavesItsList) {
    // The node that puts a waiting task on a future's done-list is the
    // task's own: a pending task destroyed at loop close must take it off
    // the list, or setting the future later would wake freed memory.
    std::vector<std::string> messages;
    weft::future<int> outside;
    {
        weft::event_loop loop;
        loop.set_exception_handler([&](weft::event_loop&, const weft::exception_context& ctx) {
            messages.push_back(ctx.message + " " + ctx.task_name);
        });
        auto waiter = [](weft::future<int> f) -> weft::task<int> { co_return co_await f; };
        loop.create_task(waiter(outside), "first");
        loop.create_task(waiter(outside), "second");
        loop.call_soon([&] { loop.stop(); });
        loop.run_forever();  // both start and wait on `outside`
        loop.close();        // and are destroyed, pending
    }
    std::sort(messages.begin(), messages.end());
    EXPECT_EQ(messages, (std::vector<std::string>{"Task was destroyed but it is pending! first",
                                                  "Task was destroyed but it is pending! second"}));
    EXPECT_FALSE(outside.done());
    outside.set_result(7);  // nobody is left on its list to wake
    EXPECT_EQ(outside.result(), 7);
}

namespace {
struct alignas(64) wide_result {
    int value;
};
}  // namespace

TEST(Tasks, AResultOfLargeAlignmentComesBackIntact) {
    // The promise of a task<wide_result> sits 64 bytes into its frame, not
    // 16: the frame is still found from the promise when the task is freed.
    auto produce = [](int v) -> weft::task<wide_result> { co_return wide_result{v}; };
    int got = weft::run([](decltype(produce) p) -> weft::task<int> {
        auto a = weft::create_task(p(7));
        auto b = weft::create_task(p(35));
        wide_result x = co_await a;
        wide_result y = co_await b;
        co_return x.value + y.value;
    }(produce));
    EXPECT_EQ(got, 42);
}

TEST(Tasks, SchedulingAnEmptyTaskRaises) {
    auto main_task = []() -> weft::task<void> {
        weft::task<int> empty;
        EXPECT_THROW(weft::create_task(std::move(empty)), weft::invalid_state_error);
        weft::task_handle<int> none;
        EXPECT_THROW((void)none.done(), weft::invalid_state_error);
        co_return;
    };
    weft::run(main_task());
}

TEST(Tasks, AwaitingAWeftAwaitableOutsideATaskRaises) {
    weft::event_loop loop;
    bool threw = false;
    // A coroutine resumed by hand, not as a task: sleep has no task to wake.
    auto body = [&]() -> weft::task<void> {
        try {
            co_await weft::sleep(0.1);
        } catch (const std::logic_error&) {
            threw = true;
        }
    };
    loop.call_soon([&] {
        auto t = body();
        auto h = t.release();
        h.resume();
        h.destroy();
        loop.stop();
    });
    loop.run_forever();
    EXPECT_TRUE(threw);
}

}  // namespace
