// gather, wait, as_completed, wait_for, timeout scopes, shield, task_group:
// the behaviour the conformance traces do not already pin down.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

weft::task<int> value_after(double delay, int v) {
    co_await weft::sleep(delay);
    co_return v;
}

weft::task<int> fail_after(double delay, std::string what) {
    co_await weft::sleep(delay);
    throw std::runtime_error(what);
}

// ---- gather

TEST(Gather, VectorOfTasksKeepsArgumentOrder) {
    auto main_task = []() -> weft::task<std::vector<int>> {
        std::vector<weft::task<int>> ts;
        for (int i = 0; i < 5; ++i)
            ts.push_back(value_after(0.01 * (5 - i), i));
        co_return co_await weft::gather(std::move(ts));
    };
    EXPECT_EQ(weft::run(main_task()), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Gather, MixedKindsAndVoidResults) {
    auto main_task = []() -> weft::task<void> {
        weft::future<std::string> f;
        weft::get_running_loop().call_soon([f]() mutable { f.set_result("fut"); });
        auto h = weft::create_task(value_after(0, 7));
        auto [a, b, c] = co_await weft::gather(h, f, []() -> weft::task<void> { co_return; }());
        EXPECT_EQ(a, 7);
        EXPECT_EQ(b, "fut");
        EXPECT_EQ(c, std::monostate{});
    };
    weft::run(main_task());
}

TEST(Gather, EmptyGatherIsDoneAtOnce) {
    auto main_task = []() -> weft::task<void> {
        auto g = weft::gather(std::vector<weft::task<int>>{});
        EXPECT_TRUE(g.done());
        auto r = co_await g;
        EXPECT_TRUE(r.empty());
    };
    weft::run(main_task());
}

TEST(Gather, ReturnExceptionsCollectsFailuresInPlace) {
    auto main_task = []() -> weft::task<void> {
        auto [ok, bad] = co_await weft::gather(weft::return_exceptions, value_after(0.01, 1),
                                               fail_after(0, "nope"));
        EXPECT_TRUE(ok.has_value());
        EXPECT_EQ(ok.value(), 1);
        EXPECT_FALSE(bad.has_value());
        EXPECT_EQ(weft::describe(bad.exception()), "std::runtime_error: nope");
        EXPECT_THROW(bad.value(), std::runtime_error);
    };
    weft::run(main_task());
}

TEST(Gather, CancellingTheGatherCancelsEveryChild) {
    auto main_task = []() -> weft::task<void> {
        auto a = weft::create_task(value_after(10, 1));
        auto b = weft::create_task(value_after(10, 2));
        auto g = weft::gather(a, b);
        co_await weft::sleep(0);
        EXPECT_TRUE(g.cancel());
        EXPECT_THROW(co_await g, weft::cancelled_error);
        // In Go mode the other child may still be finishing its cancellation.
        EXPECT_THROW(co_await a, weft::cancelled_error);
        EXPECT_THROW(co_await b, weft::cancelled_error);
    };
    weft::run(main_task());
}

TEST(Gather, CancellingTheAwaitingTaskCancelsTheChildren) {
    auto main_task = []() -> weft::task<void> {
        auto child = weft::create_task(value_after(10, 1));
        auto waiter = weft::create_task([](weft::task_handle<int> c) -> weft::task<void> {
            co_await weft::gather(c, value_after(10, 2));
        }(child));
        co_await weft::sleep(0.01);
        waiter.cancel();
        EXPECT_THROW(co_await waiter, weft::cancelled_error);
        EXPECT_THROW(co_await child, weft::cancelled_error);
    };
    weft::run(main_task());
}

TEST(Gather, TheSameTaskTwiceCountsOnce) {
    auto main_task = []() -> weft::task<void> {
        auto t = weft::create_task(value_after(0.01, 4));
        auto [x, y] = co_await weft::gather(t, t);
        EXPECT_EQ(x + y, 8);
    };
    weft::run(main_task());
}

// ---- wait / as_completed

TEST(Wait, FirstExceptionReturnsOnTheFailure) {
    auto main_task = []() -> weft::task<void> {
        std::vector<weft::task_handle<int>> ts{weft::create_task(value_after(10, 1)),
                                               weft::create_task(fail_after(0.01, "x"))};
        auto r = co_await weft::wait(ts, std::nullopt, weft::return_when::first_exception);
        EXPECT_EQ(r.done.size(), 1u);
        EXPECT_EQ(r.pending.size(), 1u);
        EXPECT_FALSE(r.pending[0].done());  // not cancelled by wait
        r.pending[0].cancel();
    };
    weft::run(main_task());
}

TEST(Wait, TimeoutReturnsDoneAndPendingWithoutCancelling) {
    auto main_task = []() -> weft::task<void> {
        std::vector<weft::task_handle<int>> ts{weft::create_task(value_after(0.01, 1)),
                                               weft::create_task(value_after(10, 2))};
        auto r = co_await weft::wait(ts, 0.05);
        EXPECT_EQ(r.done.size(), 1u);
        EXPECT_EQ(r.pending.size(), 1u);
        for (auto& p : r.pending) {
            EXPECT_FALSE(p.cancelled());
            p.cancel();
        }
    };
    weft::run(main_task());
}

TEST(Wait, BadArgumentsRaise) {
    auto main_task = []() -> weft::task<void> {
        EXPECT_THROW(co_await weft::wait(std::vector<weft::task_handle<int>>{}),
                     std::invalid_argument);
        std::vector<weft::task_handle<int>> ts{weft::create_task(value_after(0, 1))};
        EXPECT_THROW(co_await weft::wait(ts, -1.0), std::invalid_argument);
        co_await ts[0];
    };
    weft::run(main_task());
}

TEST(AsCompleted, YieldsResultsInCompletionOrder) {
    auto main_task = []() -> weft::task<std::vector<int>> {
        std::vector<weft::task<int>> ts;
        ts.push_back(value_after(0.03, 3));
        ts.push_back(value_after(0.01, 1));
        ts.push_back(value_after(0.02, 2));
        std::vector<int> order;
        for (auto next : weft::as_completed(std::move(ts)))
            order.push_back(co_await std::move(next));
        co_return order;
    };
    EXPECT_EQ(weft::run(main_task()), (std::vector<int>{1, 2, 3}));
}

TEST(AsCompleted, TimeoutRaisesForWhatIsLeft) {
    auto main_task = []() -> weft::task<void> {
        std::vector<weft::task_handle<int>> ts{weft::create_task(value_after(0.01, 1)),
                                               weft::create_task(value_after(10, 2))};
        auto ac = weft::as_completed(ts, 0.05);
        EXPECT_EQ(co_await ac.next(), 1);
        EXPECT_THROW(co_await ac.next(), weft::timeout_error);
        EXPECT_THROW((void)ac.next(), std::out_of_range);
        ts[1].cancel();
    };
    weft::run(main_task());
}

// ---- wait_for / timeout scopes

TEST(WaitFor, NoTimeoutJustAwaits) {
    auto main_task = []() -> weft::task<int> {
        co_return co_await weft::wait_for(value_after(0.01, 5), std::nullopt);
    };
    EXPECT_EQ(weft::run(main_task()), 5);
}

TEST(WaitFor, ZeroTimeoutCancelsAPendingTask) {
    auto main_task = []() -> weft::task<void> {
        auto t = weft::create_task(value_after(10, 1));
        EXPECT_THROW(co_await weft::wait_for(t, 0), weft::timeout_error);
        EXPECT_TRUE(t.cancelled());
        auto done = weft::create_task(value_after(0, 2));
        co_await weft::sleep(0.001);
        EXPECT_EQ(co_await weft::wait_for(done, 0), 2);  // already done: its result
    };
    weft::run(main_task());
}

TEST(WaitFor, NegativeOrNanTimeoutsRaiseInvalidArgument) {
    auto main_task = []() -> weft::task<void> {
        try {
            co_await weft::wait_for(value_after(0, 1), -0.5);
            ADD_FAILURE() << "expected invalid_argument";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("weft::wait_for: timeout must be >= 0"),
                      std::string::npos)
                << e.what();
        }
        EXPECT_THROW(co_await weft::wait_for(value_after(0, 1), std::nan("")),
                     std::invalid_argument);
        EXPECT_THROW((void)weft::timeout(-1.0), std::invalid_argument);
    };
    weft::run(main_task());
}

TEST(WaitFor, ExceptionsOfTheInnerTaskPassThrough) {
    auto main_task = []() -> weft::task<void> {
        EXPECT_THROW(co_await weft::wait_for(fail_after(0, "inner"), 1.0), std::runtime_error);
    };
    weft::run(main_task());
}

TEST(WaitFor, CancellingTheCallerCancelsTheInnerTaskToo) {
    auto main_task = []() -> weft::task<void> {
        auto inner = weft::create_task(value_after(10, 1));
        auto outer = weft::create_task([](weft::task_handle<int> i) -> weft::task<int> {
            co_return co_await weft::wait_for(i, 5.0);
        }(inner));
        co_await weft::sleep(0.01);
        outer.cancel();
        EXPECT_THROW(co_await outer, weft::cancelled_error);
        EXPECT_TRUE(inner.cancelled());
    };
    weft::run(main_task());
}

TEST(Timeout, RescheduleMovesTheDeadline) {
    auto main_task = []() -> weft::task<void> {
        weft::event_loop& loop = weft::get_running_loop();
        weft::timeout_scope cm = weft::timeout(0.01);
        co_await cm.run([&]() -> weft::task<void> {
            cm.reschedule(loop.time() + 10);
            co_await weft::sleep(0.05);  // would have expired without the reschedule
        }());
        EXPECT_FALSE(cm.expired());
        weft::timeout_scope never = weft::timeout(std::nullopt);
        EXPECT_FALSE(never.when().has_value());
        EXPECT_EQ(co_await never.run(value_after(0.001, 0)), 0);
        EXPECT_FALSE(never.expired());
    };
    weft::run(main_task());
}

TEST(Timeout, ReturnsTheBodysValueAndRaisesAtTheDeadline) {
    auto main_task = []() -> weft::task<void> {
        weft::timeout_scope ok = weft::timeout(1.0);
        EXPECT_EQ(co_await ok.run(value_after(0.001, 3)), 3);
        weft::timeout_scope late = weft::timeout_at(weft::get_running_loop().time() + 0.01);
        EXPECT_THROW(co_await late.run(value_after(10, 3)), weft::timeout_error);
        EXPECT_TRUE(late.expired());
        EXPECT_EQ(weft::current_task().cancelling(), 0);  // the scope took its cancel back
        weft::timeout_scope used = weft::timeout(1.0);
        co_await used.run(value_after(0, 1));
        EXPECT_THROW(co_await used.run(value_after(0, 1)), std::logic_error);  // single use
    };
    weft::run(main_task());
}

TEST(Timeout, AnOuterCancelIsNotTurnedIntoATimeout) {
    auto main_task = []() -> weft::task<void> {
        auto t = weft::create_task([]() -> weft::task<int> {
            weft::timeout_scope cm = weft::timeout(10.0);
            co_return co_await cm.run(value_after(10, 1));
        }());
        co_await weft::sleep(0.01);
        t.cancel();
        EXPECT_THROW(co_await t, weft::cancelled_error);  // cancelled, not timed out
    };
    weft::run(main_task());
}

// ---- shield

TEST(Shield, TheInnerTaskSurvivesAndItsResultIsAvailable) {
    auto main_task = []() -> weft::task<void> {
        auto inner = weft::create_task(value_after(0.02, 6));
        auto outer = weft::create_task([](weft::task_handle<int> i) -> weft::task<int> {
            co_return co_await weft::shield(i);
        }(inner));
        co_await weft::sleep(0.005);
        outer.cancel();
        EXPECT_THROW(co_await outer, weft::cancelled_error);
        EXPECT_FALSE(inner.done());
        EXPECT_EQ(co_await inner, 6);
        auto done_now = co_await weft::shield(inner);  // already done: the same result
        EXPECT_EQ(done_now, 6);
    };
    weft::run(main_task());
}

// ---- task_group

TEST(TaskGroup, WaitsForEveryTask) {
    auto main_task = []() -> weft::task<int> {
        int sum = 0;
        weft::task_group tg;
        co_await tg.run([&]() -> weft::task<void> {
            for (int i = 1; i <= 4; ++i) {
                tg.create_task([](int* s, int k) -> weft::task<void> {
                    co_await weft::sleep(0.001 * k);
                    *s += k;
                }(&sum, i));
            }
            co_return;
        }());
        co_return sum;
    };
    EXPECT_EQ(weft::run(main_task()), 10);
}

TEST(TaskGroup, AFailingBodyCancelsTheTasksAndIsReportedInTheGroup) {
    auto main_task = []() -> weft::task<void> {
        weft::task_group tg;
        weft::task_handle<int> child;
        try {
            co_await tg.run([&]() -> weft::task<void> {
                child = tg.create_task(value_after(10, 1));
                co_await weft::sleep(0);
                throw std::domain_error("body");
            }());
            ADD_FAILURE() << "expected an exception_group";
        } catch (const weft::exception_group& eg) {
            EXPECT_EQ(eg.exceptions().size(), 1u);
            for (const auto& e : eg.exceptions())
                EXPECT_EQ(weft::describe(e), "std::domain_error: body");
        }
        EXPECT_TRUE(child.cancelled());
        EXPECT_THROW(tg.create_task(value_after(0, 1)), std::logic_error);  // finished
    };
    weft::run(main_task());
}

TEST(TaskGroup, CancellingTheParentCancelsTheGroup) {
    auto main_task = []() -> weft::task<void> {
        weft::future<weft::task_handle<int>> child_made;
        auto parent =
            weft::create_task([](weft::future<weft::task_handle<int>> made) -> weft::task<void> {
                weft::task_group tg;
                co_await tg.run([&]() -> weft::task<void> {
                    made.set_result(tg.create_task(value_after(10, 1)));
                    co_await weft::sleep(10);
                }());
            }(child_made));
        weft::task_handle<int> child = co_await child_made;
        parent.cancel();
        EXPECT_THROW(co_await parent, weft::cancelled_error);
        EXPECT_THROW(co_await child, weft::cancelled_error);
    };
    weft::run(main_task());
}

TEST(TaskGroup, CreateTaskOutsideRunRaises) {
    weft::task_group tg;
    EXPECT_THROW(tg.create_task(value_after(0, 1)), std::logic_error);
}

}  // namespace
