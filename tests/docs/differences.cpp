// The deliberate differences from asyncio that docs/asyncio.md lists, each
// pinned down here so that the page and the runtime cannot drift apart.
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

weft::task<void> tick() {
    co_await weft::sleep(0.001);
}
weft::task<int> seven() {
    co_return 7;
}
weft::task<std::unique_ptr<int>> boxed_seven() {
    co_return std::make_unique<int>(7);
}

// Negative timeouts raise std::invalid_argument; asyncio treats them as expired.
TEST(Differences, NegativeTimeoutsRaiseInvalidArgument) {
    EXPECT_THROW(weft::run([]() -> weft::task<void> { co_await weft::wait_for(tick(), -1.0); }()),
                 std::invalid_argument);
    EXPECT_THROW(weft::run([]() -> weft::task<void> {
                     std::vector<weft::task_handle<void>> ts{weft::create_task(tick())};
                     co_await weft::wait(ts, -0.5);
                 }()),
                 std::invalid_argument);
    EXPECT_THROW(weft::run([]() -> weft::task<void> {
                     std::vector<weft::task_handle<void>> ts{weft::create_task(tick())};
                     auto range = weft::as_completed(ts, -1.0);
                     co_return;
                 }()),
                 std::invalid_argument);
    EXPECT_THROW(weft::run([]() -> weft::task<void> {
                     weft::timeout_scope cm = weft::timeout(-1.0);
                     co_await cm.run(tick());
                 }()),
                 std::invalid_argument);
}

// A negative delay counts as zero, as in asyncio.
TEST(Differences, NegativeDelaysCountAsZero) {
    auto start = std::chrono::steady_clock::now();
    int later_ran = weft::run([]() -> weft::task<int> {
        int ran = 0;
        weft::get_running_loop().call_later(-1.0, [&ran] { ++ran; });
        co_await weft::sleep(-1.0);  // one iteration, like sleep(0)
        co_await weft::sleep(std::chrono::milliseconds(-5));
        co_return ran;
    }());
    EXPECT_EQ(later_ran, 1);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

void by_pointer(weft::task_ref&) {}
struct by_value {
    int id;
    void operator()(weft::task_ref&) const {}
    bool operator==(const by_value&) const = default;
};

// Done-callbacks are found again by ==, not by identity.
TEST(Differences, DoneCallbacksAreRemovedByValueEquality) {
    auto removed = weft::run([]() -> weft::task<std::vector<std::size_t>> {
        auto t = weft::create_task(tick());
        auto stateless = [](weft::task_ref&) {};
        t.add_done_callback(by_pointer);
        t.add_done_callback(by_pointer);
        t.add_done_callback(stateless);
        t.add_done_callback(by_value{1});
        t.add_done_callback(by_value{2});
        std::vector<std::size_t> counts{
            t.remove_done_callback(&by_pointer), t.remove_done_callback(stateless),
            t.remove_done_callback(by_value{2}), t.remove_done_callback(by_value{3})};
        co_await t;
        co_return counts;
    }());
    EXPECT_EQ(removed, (std::vector<std::size_t>{2, 1, 1, 0}));
}

// `co_await handle` yields a reference to the result kept in the task;
// `co_await std::move(handle)` moves it out.
TEST(Differences, AwaitingAHandleYieldsAReferenceMovingItMovesOut) {
    weft::run([]() -> weft::task<void> {
        auto h = weft::create_task(boxed_seven());
        const std::unique_ptr<int>& ref = co_await h;
        EXPECT_EQ(&ref, &h.result());
        EXPECT_EQ(*ref, 7);
        std::unique_ptr<int> moved = co_await std::move(h);
        EXPECT_EQ(*moved, 7);
        EXPECT_EQ(h.result(), nullptr);  // the handle is still valid; its result moved out
    }());
}

// A lazy task runs once; awaiting it again raises invalid_state_error (Python
// raises RuntimeError for a reused coroutine).
TEST(Differences, ALazyTaskCanBeAwaitedOnce) {
    EXPECT_THROW(weft::run([]() -> weft::task<void> {
                     weft::task<int> once = seven();
                     int first = co_await once;
                     EXPECT_EQ(first, 7);
                     co_await once;
                 }()),
                 weft::invalid_state_error);
    // A task handle, by contrast, can be awaited again and again.
    weft::run([]() -> weft::task<void> {
        auto h = weft::create_task(seven());
        int a = co_await h;
        int b = co_await h;
        EXPECT_EQ(a, 7);
        EXPECT_EQ(b, 7);
    }());
}

// cancelled_error, like asyncio.CancelledError (a BaseException), is outside
// the std::exception hierarchy, so a catch meant for failures lets it through.
weft::task<void> catches_failures() {
    try {
        co_await weft::sleep(10);
    } catch (const std::exception&) {
        co_return;  // a failure: given up quietly (a cancellation never gets here)
    }
}

TEST(Differences, CancelledErrorIsNotAStdException) {
    static_assert(!std::is_base_of_v<std::exception, weft::cancelled_error>);
    static_assert(std::is_base_of_v<std::logic_error, weft::invalid_state_error>);
    static_assert(std::is_base_of_v<std::runtime_error, weft::timeout_error>);
    static_assert(std::is_base_of_v<std::runtime_error, weft::exception_group>);
    bool cancelled = weft::run([]() -> weft::task<bool> {
        auto t = weft::create_task(catches_failures());
        co_await weft::sleep(0);
        t.cancel();
        try {
            co_await t;
        } catch (const weft::cancelled_error&) {
        }
        co_return t.cancelled();
    }());
    EXPECT_TRUE(cancelled);
}

// Default names are Task-N, numbered in the order they are first asked for
// (asyncio numbers tasks as they are created).
TEST(Differences, DefaultTaskNamesAreNumberedWhenFirstAsked) {
    weft::run([]() -> weft::task<void> {
        auto first = weft::create_task(tick());
        auto second = weft::create_task(tick());
        std::string second_name = second.get_name();
        std::string first_name = first.get_name();
        // (No ASSERT_*: they `return`, which a coroutine cannot.)
        EXPECT_EQ(second_name.rfind("Task-", 0), 0u);
        EXPECT_EQ(first_name.rfind("Task-", 0), 0u);
        if (first_name.size() > 5 && second_name.size() > 5) {
            EXPECT_EQ(std::stoi(first_name.substr(5)), std::stoi(second_name.substr(5)) + 1);
        }
        co_await first;
        co_await second;
    }());
}

// void results are std::monostate in gather's results and in outcome<void>.
TEST(Differences, VoidResultsAreMonostate) {
    weft::run([]() -> weft::task<void> {
        auto [v, n] = co_await weft::gather(tick(), seven());
        static_assert(std::is_same_v<decltype(v), std::monostate>);
        EXPECT_EQ(n, 7);
        auto [out] = co_await weft::gather(weft::return_exceptions, tick());
        static_assert(std::is_same_v<decltype(out), weft::outcome<void>>);
        EXPECT_TRUE(out.has_value());
    }());
}

// Done-callbacks run in the context of the thread running them, not in a copy
// of the one current at add_done_callback (call_soon's do capture theirs).
weft::context_var<std::string> where_var("where");

TEST(Differences, DoneCallbacksDoNotCaptureTheContext) {
    weft::run([]() -> weft::task<void> {
        auto tok = where_var.set("adder");
        std::string in_done, in_soon;
        auto t = weft::create_task(tick());
        t.add_done_callback([&](weft::task_ref&) { in_done = where_var.get("none"); });
        weft::get_running_loop().call_soon([&] { in_soon = where_var.get("none"); });
        co_await t;
        co_await weft::sleep(0);     // the done-callback runs one iteration later
        EXPECT_EQ(in_done, "none");  // asyncio: "adder"
        EXPECT_EQ(in_soon, "adder");
        where_var.reset(tok);
    }());
}

}  // namespace
