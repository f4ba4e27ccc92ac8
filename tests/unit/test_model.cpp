// The scheduling model (run_options::model, WEFT_MODEL, runtime_options):
// asyncio's at one thread by default, Go's above, and Go's at one thread on
// request, so that the two can be compared at equal threads.
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>

#include <weft/runtime.hpp>
#include <weft/weft.hpp>

namespace {

using weft::scheduling_model;

class WeftModelEnv : public ::testing::Test {
protected:
    void SetUp() override { ::unsetenv("WEFT_MODEL"); }
    void TearDown() override { ::unsetenv("WEFT_MODEL"); }
};

TEST_F(WeftModelEnv, AutomaticIsAsyncioAtOneThreadAndGoAbove) {
    EXPECT_EQ(weft::resolve_model({}, 1), scheduling_model::asyncio);
    EXPECT_EQ(weft::resolve_model({}, 2), scheduling_model::go);
    EXPECT_EQ(weft::resolve_model({.model = scheduling_model::go}, 1), scheduling_model::go);
    EXPECT_EQ(weft::resolve_model({.model = scheduling_model::asyncio}, 1),
              scheduling_model::asyncio);
    EXPECT_STREQ(weft::to_string(scheduling_model::go), "go");
    EXPECT_STREQ(weft::to_string(scheduling_model::asyncio), "asyncio");
}

TEST_F(WeftModelEnv, AsyncioAtSeveralThreadsIsAConfigurationError) {
    try {
        weft::resolve_model({.model = scheduling_model::asyncio}, 4);
        ADD_FAILURE() << "accepted asyncio at 4 threads";
    } catch (const weft::configuration_error& e) {
        EXPECT_EQ(e.source(), "run_options::model");
        EXPECT_NE(e.problem().find("4 threads"), std::string::npos) << e.problem();
    }
    // Checked before anything starts, by runner and runtime alike.
    EXPECT_THROW(weft::runner({.threads = 2, .model = scheduling_model::asyncio}),
                 weft::configuration_error);
    weft::runtime_options o;
    o.threads = 3;
    o.model = scheduling_model::asyncio;
    EXPECT_THROW(weft::runtime{o}, weft::configuration_error);
}

TEST_F(WeftModelEnv, ParseNamesTheSourceAndTheValue) {
    EXPECT_EQ(weft::parse_scheduling_model("go", "--model"), scheduling_model::go);
    EXPECT_EQ(weft::parse_scheduling_model("asyncio", "--model"), scheduling_model::asyncio);
    for (const char* bad : {"", "Go", "automatic", "tokio", "go "}) {
        try {
            weft::parse_scheduling_model(bad, "--model");
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const weft::configuration_error& e) {
            EXPECT_EQ(std::string(e.what()),
                      std::string("--model: must be asyncio or go, got '") + bad + "'");
        }
    }
}

TEST_F(WeftModelEnv, EnvironmentDecidesWhenTheOptionsDoNot) {
    ::setenv("WEFT_MODEL", "go", 1);
    EXPECT_EQ(weft::resolve_model({}, 1), scheduling_model::go);
    // An explicit option wins over the variable.
    EXPECT_EQ(weft::resolve_model({.model = scheduling_model::asyncio}, 1),
              scheduling_model::asyncio);
    ::setenv("WEFT_MODEL", "", 1);  // set but empty: unset
    EXPECT_EQ(weft::resolve_model({}, 1), scheduling_model::asyncio);
    ::setenv("WEFT_MODEL", "asyncio", 1);
    try {
        weft::resolve_model({}, 2);
        ADD_FAILURE() << "accepted WEFT_MODEL=asyncio at 2 threads";
    } catch (const weft::configuration_error& e) {
        EXPECT_EQ(e.source(), "WEFT_MODEL");
    }
    ::setenv("WEFT_MODEL", "trio", 1);
    try {
        weft::resolve_model({}, 1);
        ADD_FAILURE() << "accepted WEFT_MODEL=trio";
    } catch (const weft::configuration_error& e) {
        EXPECT_STREQ(e.what(), "WEFT_MODEL: must be asyncio or go, got 'trio'");
    }
}

weft::task<long> fib(int n) {
    if (n < 2) co_return n;
    auto a = weft::create_task(fib(n - 1));
    long b = co_await fib(n - 2);
    co_return co_await a + b;
}

// Go's model at one thread: one worker thread runs the tasks (runtime_stats
// has one entry and counts them), not the calling thread, and the results
// are those of asyncio's model.
TEST_F(WeftModelEnv, GoModelAtOneThreadRunsOneWorker) {
    weft::runner r({.threads = 1, .model = scheduling_model::go});
    EXPECT_EQ(r.threads(), 1);
    EXPECT_EQ(r.model(), scheduling_model::go);
    const auto caller = std::this_thread::get_id();
    auto [value, workers, on_caller] =
        r.run([](std::thread::id c) -> weft::task<std::tuple<long, std::size_t, bool>> {
            long v = co_await fib(18);
            co_return std::tuple{v, weft::runtime_stats().size(), std::this_thread::get_id() == c};
        }(caller));
    EXPECT_EQ(value, 2584);
    EXPECT_EQ(workers, 1u);
    EXPECT_FALSE(on_caller);
    std::vector<weft::worker_stats> st = r.stats();
    ASSERT_EQ(st.size(), 1u);
    EXPECT_GT(st[0].tasks_run, 4000u);  // fib(18) makes 4180 tasks
    r.close();

    weft::runner a({.threads = 1});
    EXPECT_EQ(a.model(), scheduling_model::asyncio);
    EXPECT_EQ(a.run(fib(18)), 2584);
    EXPECT_TRUE(a.stats().empty());
    a.close();
}

TEST_F(WeftModelEnv, BackgroundRuntimeTakesTheModel) {
    weft::runtime_options o;
    o.threads = 1;
    o.model = scheduling_model::go;
    weft::runtime rt(o);
    auto h = rt.handle();
    EXPECT_EQ(
        h.block_on([]() -> weft::task<std::size_t> { co_return weft::runtime_stats().size(); }()),
        1u);
    EXPECT_EQ(h.block_on(fib(15)), 610);
    EXPECT_TRUE(rt.shutdown(std::chrono::seconds(5)).empty());
}

}  // namespace
