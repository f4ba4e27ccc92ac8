// context_var (asyncio's contextvars) and spawn(callable, args...), in
// asyncio mode (1 thread) and Go mode (4 workers: tasks move between
// threads, and their context must move with them).
#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/scheduler.hpp>

namespace {

using namespace std::chrono_literals;

weft::context_var<std::string> request_id("request_id");
weft::context_var<int> depth("depth", 0);

class ContextVar : public ::testing::TestWithParam<int> {
protected:
    template <class T>
    T run(weft::task<T> t) {
        return weft::run(std::move(t), {.threads = GetParam()});
    }
};

TEST(ContextVarPlain, GetFallsBackToTheDefaultThenRaisesLookupError) {
    weft::context_var<int> unset("unset");
    EXPECT_THROW(unset.get(), weft::lookup_error);
    try {
        unset.get();
    } catch (const weft::lookup_error& e) {
        EXPECT_NE(std::string(e.what()).find("'unset'"), std::string::npos) << e.what();
    }
    EXPECT_EQ(unset.get(5), 5);
    EXPECT_EQ(depth.get(), 0);
    EXPECT_EQ(depth.get(9), 9);  // get(default) wins over the variable's default
    EXPECT_EQ(depth.name(), "depth");
}

TEST(ContextVarPlain, OutsideTasksAThreadHasItsOwnContext) {
    weft::context_var<int> v("v");
    auto tok = v.set(1);
    EXPECT_EQ(v.get(), 1);
    std::thread([&] { EXPECT_EQ(v.get(-1), -1); }).join();
    v.reset(tok);
    EXPECT_THROW(v.get(), weft::lookup_error);
}

TEST(ContextVarPlain, ResetRestoresThePreviousValueOrNone) {
    weft::context_var<int> v("v");
    auto t1 = v.set(1);
    EXPECT_EQ(t1.old_value(), nullptr);  // Token.MISSING
    auto t2 = v.set(2);
    ASSERT_NE(t2.old_value(), nullptr);
    EXPECT_EQ(*t2.old_value(), 1);
    EXPECT_EQ(&t2.var(), &v);
    v.reset(t2);
    EXPECT_EQ(v.get(), 1);
    v.reset(t1);
    EXPECT_THROW(v.get(), weft::lookup_error);
}

TEST(ContextVarPlain, TokenMisuseRaisesAsPythonDoes) {
    weft::context_var<int> a("a");
    weft::context_var<int> b("b");
    auto ta = a.set(1);
    auto tb = b.set(2);
    // Another variable's token: ValueError in Python.
    EXPECT_THROW(a.reset(tb), std::invalid_argument);
    a.reset(ta);
    // Used twice: RuntimeError in Python.
    EXPECT_THROW(a.reset(ta), weft::invalid_state_error);
    // Moved from: the token went with the move.
    auto tb2 = std::move(tb);
    EXPECT_THROW(b.reset(tb), weft::invalid_state_error);
    // Made in another context: ValueError in Python.
    weft::context ctx;
    auto inner = ctx.run([&] { return b.set(3); });
    EXPECT_THROW(b.reset(inner), std::invalid_argument);
    EXPECT_EQ(b.get(), 2);
    ctx.run([&] { b.reset(inner); });  // fine where it was made
    EXPECT_FALSE(ctx.value_of(b).has_value());
    b.reset(tb2);
}

TEST(ContextVarPlain, ContextRunKeepsItsChangesAndRefusesReentry) {
    weft::context_var<int> v("v");
    auto outer = v.set(1);
    weft::context snap = weft::copy_context();
    auto after = v.set(2);  // not in the snapshot
    EXPECT_EQ(snap.run([&] { return v.get(); }), 1);
    snap.run([&] { (void)v.set(10); });
    EXPECT_EQ(v.get(), 2);  // the run's set stayed in `snap`
    EXPECT_EQ(snap.value_of(v), 10);
    EXPECT_EQ(snap.size(), 1u);
    weft::context other = snap.copy();
    snap.run([&] { (void)v.set(11); });
    EXPECT_EQ(other.value_of(v), 10);  // copy() is independent
    EXPECT_THROW(snap.run([&] { snap.run([] {}); }), weft::invalid_state_error);
    EXPECT_EQ(snap.run([&](int x) { return v.get() + x; }, 1), 12);  // usable again
    v.reset(after);
    v.reset(outer);
}

TEST_P(ContextVar, ATaskSeesItsCreatorsValuesAndItsOwnSetsStayInIt) {
    run([]() -> weft::task<void> {
        auto tok = request_id.set("r-1");
        auto child = weft::create_task([]() -> weft::task<std::string> {
            std::string seen = request_id.get();
            auto t = request_id.set("child");
            co_await weft::sleep(0.001);
            EXPECT_EQ(request_id.get(), "child");
            request_id.reset(t);
            co_return seen;
        }());
        (void)request_id.set("r-2");  // after create_task: the child's copy was taken before
        EXPECT_EQ(co_await child, "r-1");
        EXPECT_EQ(request_id.get(), "r-2");  // the child's set is not seen here
        request_id.reset(tok);
        EXPECT_EQ(request_id.get("none"), "none");
    }());
}

TEST_P(ContextVar, EachTaskKeepsItsOwnValueAcrossSuspensions) {
    // In Go mode the tasks migrate between workers between steps: the value
    // is the task's, not the thread's.
    run([]() -> weft::task<void> {
        std::vector<weft::task_handle<int>> tasks;
        for (int i = 0; i < 200; ++i) {
            (void)depth.set(i);
            tasks.push_back(weft::create_task([]() -> weft::task<int> {
                int mine = depth.get();
                for (int k = 0; k < 5; ++k) {
                    co_await weft::yield_now();
                    if (depth.get() != mine) co_return -1;
                    (void)depth.set(mine);  // a set builds a new map: still the same value
                }
                co_return mine;
            }()));
        }
        for (int i = 0; i < 200; ++i)
            EXPECT_EQ(co_await tasks[static_cast<std::size_t>(i)], i);
    }());
}

TEST_P(ContextVar, ATokenFromTheCreatorIsRefusedInTheTask) {
    run([]() -> weft::task<void> {
        auto tok = depth.set(3);
        auto child = weft::create_task([](weft::context_var<int>::token& t) -> weft::task<void> {
            EXPECT_THROW(depth.reset(t), std::invalid_argument);
            co_return;
        }(tok));
        co_await child;
        depth.reset(tok);  // still good in its own context
        EXPECT_EQ(depth.get(), 0);
    }());
}

TEST_P(ContextVar, TasksShareTheirCreatorsContextUntilTheySet) {
    // The copy at create_task is a shared pointer: no map is built for a
    // task that only reads.
    run([]() -> weft::task<void> {
        EXPECT_EQ(weft::detail::current_context_slot().get(), nullptr);  // empty: no map at all
        auto tok = depth.set(1);
        const weft::detail::context_map* mine = weft::detail::current_context_slot().get();
        auto child = weft::create_task([]() -> weft::task<const weft::detail::context_map*> {
            co_return weft::detail::current_context_slot().get();
        }());
        EXPECT_EQ(co_await child, mine);
        depth.reset(tok);
        EXPECT_EQ(weft::detail::current_context_slot().get(), nullptr);
    }());
}

TEST_P(ContextVar, CallbacksRunInTheContextCurrentWhenTheyWereScheduled) {
    run([]() -> weft::task<void> {
        auto tok = request_id.set("scheduler");
        weft::future<std::string> seen;
        weft::future<std::string> later;
        weft::event_loop& loop = weft::get_running_loop();
        loop.call_soon([&] {
            seen.set_result(request_id.get("none"));
            (void)request_id.set("callback");  // in the callback's copy only
        });
        loop.call_later(0.001, [&] { later.set_result(request_id.get("none")); });
        (void)request_id.set("changed later");
        EXPECT_EQ(co_await seen, "scheduler");
        EXPECT_EQ(co_await later, "scheduler");
        EXPECT_EQ(request_id.get(), "changed later");
        request_id.reset(tok);
    }());
}

TEST_P(ContextVar, RunGivesTheMainTaskACopyOfTheCallersContext) {
    auto tok = request_id.set("outside");
    std::string seen = run([]() -> weft::task<std::string> {
        (void)request_id.set("inside");  // the caller's context is not changed
        co_return request_id.get();
    }());
    EXPECT_EQ(seen, "inside");
    EXPECT_EQ(request_id.get(), "outside");
    seen = run([]() -> weft::task<std::string> { co_return request_id.get(); }());
    EXPECT_EQ(seen, "outside");
    request_id.reset(tok);
}

// ---- spawn(callable, args...)

TEST_P(ContextVar, SpawnKeepsTheLambdaAndItsCapturesAliveAsLongAsTheTask) {
    // With create_task([s, v]() -> task<...> {...}()) the lambda, and s and
    // v with it, dies at the end of the statement and the task reads
    // destroyed objects after its sleep: a wrong count or a crash (the
    // temporary lived on the stack, which AddressSanitizer does not track
    // once reused). spawn owns the lambda: right, and clean under ASan.
    run([]() -> weft::task<void> {
        auto h = weft::spawn(
            [s = std::string(64, 'x'), v = std::make_unique<int>(7)]() -> weft::task<std::size_t> {
                co_await weft::sleep(0.001);
                // Reads the heap memory the captures own (freed, with create_task).
                co_return static_cast<std::size_t>(std::count(s.begin(), s.end(), 'x')) +
                    static_cast<std::size_t>(*v);
            });
        EXPECT_EQ(co_await h, 71u);
    }());
}

TEST_P(ContextVar, SpawnPassesArgumentsByValueIntoTheTask) {
    run([]() -> weft::task<void> {
        std::string name = "abc";
        int counter = 0;
        auto h = weft::spawn(
            [](const std::string& n, int& c) -> weft::task<std::string> {
                co_await weft::sleep(0.001);
                ++c;
                co_return n + "!";
            },
            name, std::ref(counter));
        name = "changed";  // the task has its own copy
        EXPECT_EQ(co_await h, "abc!");
        EXPECT_EQ(counter, 1);
        auto v = weft::spawn([]() -> weft::task<void> { co_return; });
        co_await v;
        EXPECT_TRUE(v.done());
    }());
}

TEST_P(ContextVar, SpawnedTasksCanBeCancelledAndRaiseLikeAnyTask) {
    run([]() -> weft::task<void> {
        auto sleeper = weft::spawn(
            [p = std::make_shared<int>(1)]() -> weft::task<void> { co_await weft::sleep(10.0); });
        co_await weft::yield_now();
        sleeper.cancel();
        EXPECT_THROW(co_await sleeper, weft::cancelled_error);
        auto bad = weft::spawn(
            [](int x) -> weft::task<int> {
                co_await weft::yield_now();
                if (x > 0) throw std::runtime_error("bad");
                co_return x;
            },
            1);
        EXPECT_THROW(co_await bad, std::runtime_error);
    }());
}

INSTANTIATE_TEST_SUITE_P(Modes, ContextVar, ::testing::Values(1, 4),
                         [](const ::testing::TestParamInfo<int>& i) {
                             return i.param == 1 ? std::string("AsyncioMode")
                                                 : std::string("GoMode");
                         });

}  // namespace
