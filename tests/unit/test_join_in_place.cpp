// Joins in place (go_worker_join_inline): in Go mode a task that awaits a
// child it spawned, still unstarted on its worker, runs the child's first
// step right there instead of suspending. What a program can tell: the
// order against other ready work (asyncio mode keeps asyncio's), the
// runtime's joins_in_place counter, and nothing else: the child is its own
// task (current_task, context, cancellation, exceptions), deep chains of
// joins do not overflow the stack, and a long fork-join computation still
// lets timers run.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

using namespace std::chrono_literals;

weft::context_var<int> where("where", 0);

// Go mode at 1 and 2 workers.
class JoinInPlace : public ::testing::TestWithParam<int> {
protected:
    template <class T>
    T run(weft::task<T> t) {
        return weft::run(std::move(t),
                         {.threads = GetParam(), .model = weft::scheduling_model::go});
    }
};

std::uint64_t joins_in_place() {
    std::uint64_t n = 0;
    for (const weft::worker_stats& s : weft::runtime_stats())
        n += s.joins_in_place;
    return n;
}

weft::task<std::string> name_of_current() {
    co_return weft::current_task().get_name();
}

weft::task<void> joined_in_place_main(std::vector<std::string>* seen) {
    std::uint64_t before = joins_in_place();
    auto child = weft::create_task(name_of_current(), "child");
    seen->push_back(co_await child);
    seen->push_back(weft::current_task().get_name());
    // The child was the newest item of this worker (no other task could
    // take it first at one worker; at two a thief may, rarely).
    if (weft::runtime_stats().size() == 1) {
        EXPECT_EQ(joins_in_place(), before + 1);
    }
}

TEST_P(JoinInPlace, TheChildIsItsOwnTaskAndTheParentIsItselfAgainAfter) {
    std::vector<std::string> seen;
    run([](std::vector<std::string>* s) -> weft::task<void> {
        weft::current_task().set_name("parent");
        co_await joined_in_place_main(s);
    }(&seen));
    EXPECT_EQ(seen, (std::vector<std::string>{"child", "parent"}));
}

weft::task<int> read_then_set() {
    int seen = where.get();
    where.set(seen + 100);
    co_return seen;
}

TEST_P(JoinInPlace, TheChildHasItsOwnCopyOfTheContext) {
    auto [child_saw, parent_after] = run([]() -> weft::task<std::pair<int, int>> {
        where.set(7);
        auto h = weft::create_task(read_then_set());
        int saw = co_await h;
        co_return std::pair{saw, where.get()};
    }());
    EXPECT_EQ(child_saw, 7);     // copied at create_task
    EXPECT_EQ(parent_after, 7);  // its set stayed in its own copy
}

weft::task<int> thrower() {
    throw std::runtime_error("from the child");
    co_return 0;
}

TEST_P(JoinInPlace, AnExceptionReachesTheJoiner) {
    std::string what = run([]() -> weft::task<std::string> {
        auto h = weft::create_task(thrower());
        try {
            co_await h;
        } catch (const std::runtime_error& e) {
            co_return e.what();
        }
        co_return "nothing thrown";
    }());
    EXPECT_EQ(what, "from the child");
}

TEST_P(JoinInPlace, AChildCancelledBeforeItStartedNeverRuns) {
    bool ran = false;
    bool cancelled = run([](bool* r) -> weft::task<bool> {
        auto h = weft::create_task([](bool* r2) -> weft::task<void> {
            *r2 = true;
            co_return;
        }(r));
        h.cancel();
        try {
            co_await h;
        } catch (const weft::cancelled_error&) {
            co_return h.cancelled();
        }
        co_return false;
    }(&ran));
    EXPECT_TRUE(cancelled);
    EXPECT_FALSE(ran);
}

// Each level spawns the next and awaits it at once: every join could run in
// place, and the cooperative budget (and the stack allowance) stop the
// nesting.
weft::task<long> chain(long n) {
    if (n == 0) co_return 0;
    co_return 1 + co_await weft::create_task(chain(n - 1));
}

TEST_P(JoinInPlace, ADeepChainOfJoinsDoesNotOverflowTheStack) {
    EXPECT_EQ(run(chain(200'000)), 200'000);
}

weft::task<long> fib(int n) {
    if (n < 2) co_return n;
    auto h = weft::create_task(fib(n - 1));
    long b = co_await fib(n - 2);
    co_return co_await h + b;
}

TEST_P(JoinInPlace, ALongForkJoinComputationLetsATimerRun) {
    // fib(27) spawns some 300,000 tasks, nearly every join in place: the
    // joins spend the steps' cooperative budget, so the worker still gets
    // to its timers long before the computation ends.
    auto [fired_early, result] = run([]() -> weft::task<std::pair<bool, long>> {
        std::atomic<bool> done{false};
        std::atomic<bool> fired_before_done{false};
        weft::get_running_loop().call_later(1ms, [&] { fired_before_done = !done.load(); });
        long r = co_await fib(27);
        done = true;
        co_await weft::sleep(5ms);  // a late timer still fires, and says so
        co_return std::pair{fired_before_done.load(), r};
    }());
    EXPECT_EQ(result, 196'418);
    EXPECT_TRUE(fired_early);
    EXPECT_GT(run([]() -> weft::task<std::uint64_t> {
                  co_await fib(15);
                  co_return joins_in_place();
              }()),
              0u);
}

INSTANTIATE_TEST_SUITE_P(Workers, JoinInPlace, ::testing::Values(1, 2), [](const auto& param_info) {
    return "go" + std::to_string(param_info.param);
});

// A callback made ready, then a child spawned and awaited at once: the
// order in which the two run at one thread under `model`.
std::vector<std::string> callback_then_child(weft::scheduling_model model) {
    std::vector<std::string> order;
    weft::run(
        [](std::vector<std::string>* o) -> weft::task<void> {
            weft::get_running_loop().call_soon([o] { o->push_back("callback"); });
            auto h = weft::create_task([](std::vector<std::string>* o2) -> weft::task<void> {
                o2->push_back("child");
                co_return;
            }(o));
            co_await h;
            co_await weft::sleep(0);  // the callback has run by the time this returns
        }(&order),
        {.threads = 1, .model = model});
    return order;
}

// asyncio mode: a spawned task runs at its turn, after what was ready
// before it, as in asyncio; nothing runs in place.
TEST(JoinInPlaceAsyncio, AsyncioModeKeepsAsynciosOrder) {
    EXPECT_EQ(callback_then_child(weft::scheduling_model::asyncio),
              (std::vector<std::string>{"callback", "child"}));
}

// ...where Go mode at one worker runs the child first, in the join.
TEST(JoinInPlaceGo, GoModeRunsTheChildBeforeReadyCallbacks) {
    EXPECT_EQ(callback_then_child(weft::scheduling_model::go),
              (std::vector<std::string>{"child", "callback"}));
}

}  // namespace
