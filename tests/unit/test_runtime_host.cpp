// weft::runtime, a runtime in the background of a program with its own
// threads: submission from threads weft does not know, blocking waits,
// remote_task's callbacks and co_await, shutdown with a deadline, signals
// left alone. Every test here crosses threads, so the binary is labelled
// `stress` as well and runs under ThreadSanitizer in CI.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pthread.h>

#include <weft/weft.hpp>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
// How late past its deadline a shutdown may return: the dump, stopping the
// loops and destroying what is left take a few milliseconds (the runtime
// allows 20 ms for each of the first two), ten times more under a sanitizer.
constexpr auto shutdown_slack = sanitized ? 500ms : 50ms;

// Round trips per foreign thread: fewer under the sanitizers (they slow each
// one down tenfold), or as WEFT_TEST_ROUND_TRIPS says.
int round_trips() {
    if (const char* env = std::getenv("WEFT_TEST_ROUND_TRIPS")) return std::atoi(env);
    return sanitized ? 20'000 : 100'000;
}

weft::task<long> twice_plus(long x, long y) {
    co_return x * 2 + y;
}

weft::task<int> fail_with(std::string what) {
    co_await weft::sleep(0);
    throw std::runtime_error(what);
}

weft::runtime_options opts(int threads) {
    weft::runtime_options o;
    o.threads = threads;
    return o;
}

class RuntimeModes : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Threads, RuntimeModes, ::testing::Values(1, 2, 4),
                         [](const auto& p) { return "threads" + std::to_string(p.param); });

// 8 threads that weft does not own, each spawning and waiting K times.
TEST_P(RuntimeModes, ForeignThreadsSpawnAndGet) {
    weft::runtime rt(opts(GetParam()));
    const int k = round_trips();
    constexpr int n_threads = 8;
    std::atomic<long> wrong{0};
    std::vector<std::thread> threads;
    weft::runtime_handle h = rt.handle();
    for (int t = 0; t < n_threads; ++t) {
        threads.emplace_back([&, t] {
            long bad = 0;
            for (int i = 0; i < k; ++i) {
                long v = h.spawn(twice_plus(i, t)).get();
                if (v != 2L * i + t) ++bad;
            }
            wrong.fetch_add(bad);
        });
    }
    for (auto& th : threads)
        th.join();
    EXPECT_EQ(wrong.load(), 0);
    weft::shutdown_report report = rt.shutdown(1s);
    EXPECT_TRUE(report.empty()) << report.to_string();
}

TEST_P(RuntimeModes, BlockOnAndExceptions) {
    weft::runtime rt(opts(GetParam()));
    EXPECT_EQ(rt.block_on(twice_plus(20, 2)), 42);
    auto r = rt.spawn(fail_with("boom"), "failing");
    try {
        (void)r.get();
        FAIL() << "get() should rethrow";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");
    }
    EXPECT_TRUE(r.done());
    EXPECT_EQ(r.name(), "failing");
    // A copy shares the task; a second get() rethrows again.
    auto copy = r;
    EXPECT_THROW((void)copy.get(), std::runtime_error);
}

TEST_P(RuntimeModes, BlockOnFromAWorkerThrows) {
    weft::runtime rt(opts(GetParam()));
    weft::runtime_handle h = rt.handle();
    auto inner = [](weft::runtime_handle hh) -> weft::task<std::string> {
        try {
            (void)hh.block_on(twice_plus(1, 1));
        } catch (const weft::blocking_wait_in_loop_error& e) {
            co_return e.what();
        }
        co_return "no error";
    };
    std::string msg = rt.block_on(inner(h));
    EXPECT_NE(msg.find("event loop's thread"), std::string::npos) << msg;
    // get() on a worker, of a task not done, is refused the same way.
    auto get_inside = [](weft::runtime_handle hh) -> weft::task<bool> {
        auto slow = [](int) -> weft::task<int> {
            co_await weft::sleep(50ms);
            co_return 1;
        };
        auto r = hh.spawn(slow(0));
        try {
            (void)r.get();
        } catch (const std::logic_error&) {
            co_return true;
        }
        co_return false;
    };
    EXPECT_TRUE(rt.block_on(get_inside(h)));
}

TEST_P(RuntimeModes, HandleAfterShutdownThrows) {
    weft::runtime_handle h;
    {
        weft::runtime rt(opts(GetParam()));
        h = rt.handle();
        EXPECT_TRUE(h.is_open());
        EXPECT_EQ(h.block_on(twice_plus(3, 0)), 6);
    }
    EXPECT_FALSE(h.is_open());
    EXPECT_THROW((void)h.spawn(twice_plus(1, 0)), weft::runtime_closed_error);
    EXPECT_THROW((void)h.block_on(twice_plus(1, 0)), weft::runtime_closed_error);
    weft::runtime_handle empty;
    EXPECT_THROW((void)empty.spawn(twice_plus(1, 0)), weft::runtime_closed_error);
}

TEST_P(RuntimeModes, SpawnAfterExplicitShutdownThrows) {
    weft::runtime rt(opts(GetParam()));
    weft::shutdown_report report = rt.shutdown(1s);
    EXPECT_TRUE(report.empty()) << report.to_string();
    EXPECT_THROW((void)rt.spawn(twice_plus(1, 0)), weft::runtime_closed_error);
    EXPECT_TRUE(rt.shutdown(1s).empty());  // a second shutdown is a no-op
}

TEST_P(RuntimeModes, DoneCallbacks) {
    weft::runtime rt(opts(GetParam()));
    std::atomic<bool> gate{false};
    auto waits = [](std::atomic<bool>* g) -> weft::task<int> {
        while (!g->load())
            co_await weft::sleep(1ms);
        co_return 7;
    };
    auto r = rt.spawn(waits(&gate));
    std::atomic<int> seen{0};
    std::atomic<bool> on_loop{false};
    r.add_done_callback([&](const weft::remote_task<int>& done) {
        on_loop = weft::event_loop::current() != nullptr;
        seen = done.get();  // done: get() does not block, even on the loop's thread
    });
    EXPECT_FALSE(r.done());
    gate = true;
    EXPECT_EQ(r.get(), 7);
    // The callback runs right as the task finishes, maybe just after get()
    // returns on this thread.
    for (int i = 0; i < 1000 && seen.load() == 0; ++i)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(seen.load(), 7);
    EXPECT_TRUE(on_loop.load());
    // Already done: the callback runs on the caller, before returning.
    std::thread::id ran_on;
    r.add_done_callback(
        [&](const weft::remote_task<int>&) { ran_on = std::this_thread::get_id(); });
    EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST_P(RuntimeModes, CancelFromAForeignThread) {
    weft::runtime rt(opts(GetParam()));
    std::atomic<bool> started{false}, cleaned{false};
    auto forever = [](std::atomic<bool>* s, std::atomic<bool>* c) -> weft::task<int> {
        s->store(true);
        try {
            co_await weft::sleep(3600s);
        } catch (const weft::cancelled_error&) {
            c->store(true);
            throw;
        }
        co_return 0;
    };
    auto r = rt.spawn(forever(&started, &cleaned));
    while (!started.load())
        std::this_thread::sleep_for(1ms);
    EXPECT_TRUE(r.cancel());
    EXPECT_THROW((void)r.get(), weft::cancelled_error);
    EXPECT_TRUE(r.cancelled());
    EXPECT_TRUE(cleaned.load());
    EXPECT_FALSE(r.cancel());  // done
}

TEST_P(RuntimeModes, WaitForTimesOut) {
    weft::runtime rt(opts(GetParam()));
    auto slow = []() -> weft::task<int> {
        co_await weft::sleep(100ms);
        co_return 5;
    };
    auto r = rt.spawn(slow());
    auto t0 = clock_type::now();
    EXPECT_FALSE(r.wait_for(10ms));
    EXPECT_GE(clock_type::now() - t0, 10ms);
    EXPECT_TRUE(r.wait_for(10s));
    EXPECT_EQ(r.get(), 5);
}

// A task that swallows its cancellation: shutdown gives up at the deadline,
// names it in the report, and destroys it with its loop.
TEST_P(RuntimeModes, ShutdownDeadlineWithAStubbornTask) {
    weft::runtime rt(opts(GetParam()));
    std::atomic<int> cancels{0};
    std::atomic<bool> started{false};
    auto stubborn = [](std::atomic<int>* n, std::atomic<bool>* s) -> weft::task<void> {
        s->store(true);
        for (;;) {
            try {
                co_await weft::sleep(5ms);
            } catch (const weft::cancelled_error&) {
                n->fetch_add(1);  // and carry on
            }
        }
    };
    auto r = rt.spawn(stubborn(&cancels, &started), "stubborn");
    auto ok = rt.spawn(twice_plus(1, 1), "quick");
    while (!started.load())
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(ok.get(), 3);
    auto t0 = clock_type::now();
    weft::shutdown_report report = rt.shutdown(200ms);
    auto took = clock_type::now() - t0;
    EXPECT_GE(took, 200ms);
    EXPECT_LT(took, 200ms + shutdown_slack)
        << std::chrono::duration<double, std::milli>(took).count() << " ms";
    EXPECT_FALSE(report.empty());
    EXPECT_FALSE(report.threads_abandoned);
    EXPECT_NE(report.task_dump.find("stubborn"), std::string::npos) << report.task_dump;
    EXPECT_EQ(report.task_dump.find("quick"), std::string::npos) << report.task_dump;
    EXPECT_NE(report.to_string().find("stubborn"), std::string::npos);
    EXPECT_GE(cancels.load(), 1);
    // Its frame went with the loop: its handle sees it cancelled.
    EXPECT_TRUE(r.done());
    EXPECT_THROW(r.get(), weft::cancelled_error);
}

TEST_P(RuntimeModes, ShutdownRunsCleanupWithinTheDeadline) {
    weft::runtime rt(opts(GetParam()));
    std::atomic<bool> started{false}, cleaned{false};
    auto polite = [](std::atomic<bool>* s, std::atomic<bool>* c) -> weft::task<void> {
        s->store(true);
        bool was_cancelled = false;
        try {
            co_await weft::sleep(3600s);
        } catch (const weft::cancelled_error&) {
            was_cancelled = true;
        }
        if (was_cancelled) {
            co_await weft::sleep(20ms);  // async cleanup, well within the deadline
            c->store(true);
            throw weft::cancelled_error();
        }
    };
    auto r = rt.spawn(polite(&started, &cleaned));
    while (!started.load())
        std::this_thread::sleep_for(1ms);
    auto t0 = clock_type::now();
    EXPECT_TRUE(rt.shutdown(5s).empty());
    EXPECT_LT(clock_type::now() - t0, 2s);
    EXPECT_TRUE(cleaned.load());
    EXPECT_THROW(r.get(), weft::cancelled_error);
}

// The destructor shuts down: queued and running tasks are cancelled, and
// their handles, which outlive the runtime, see how each ended.
TEST_P(RuntimeModes, DestructorWithPendingWork) {
    std::vector<weft::remote_task<long>> handles;
    std::atomic<int> cleanups{0};
    std::atomic<bool> started{false};
    auto long_one = [](std::atomic<int>* c, std::atomic<bool>* s) -> weft::task<long> {
        s->store(true);
        try {
            co_await weft::sleep(3600s);
        } catch (const weft::cancelled_error&) {
            c->fetch_add(1);
            throw;
        }
        co_return 0;
    };
    weft::remote_task<long> sleeper;
    {
        weft::runtime rt(opts(GetParam()));
        sleeper = rt.spawn(long_one(&cleanups, &started));
        while (!started.load())
            std::this_thread::sleep_for(1ms);
        for (int i = 0; i < 1000; ++i)
            handles.push_back(rt.spawn(twice_plus(i, 0)));
    }
    EXPECT_EQ(cleanups.load(), 1);
    EXPECT_THROW(sleeper.get(), weft::cancelled_error);
    for (std::size_t i = 0; i < handles.size(); ++i) {
        ASSERT_TRUE(handles[i].done());
        try {
            EXPECT_EQ(handles[i].get(), 2 * static_cast<long>(i));
        } catch (const weft::cancelled_error&) {
            // started, and cancelled by the shutdown
        } catch (const weft::runtime_closed_error&) {
            // still queued: dropped by the shutdown before it started
        }
    }
}

// co_await of a remote task, from a task on another runtime, suspends only
// the task; cancelling the awaiting task cancels the remote one.
TEST(RuntimeHost, AwaitRemoteTaskFromAnotherRuntime) {
    weft::runtime a(opts(1));
    weft::runtime b(opts(2));
    auto add_remote = [](weft::runtime_handle other, long x) -> weft::task<long> {
        long sum = 0;
        for (long i = 0; i < 100; ++i)
            sum += co_await other.spawn(twice_plus(x, i));
        co_return sum;
    };
    // sum over i of (2x + i) = 200x + 4950
    EXPECT_EQ(b.block_on(add_remote(a.handle(), 1)), 200 + 4950);
    EXPECT_EQ(a.block_on(add_remote(b.handle(), 2)), 400 + 4950);

    std::atomic<bool> remote_cancelled{false};
    auto remote_forever = [](std::atomic<bool>* flag) -> weft::task<int> {
        try {
            co_await weft::sleep(3600s);
        } catch (const weft::cancelled_error&) {
            flag->store(true);
            throw;
        }
        co_return 0;
    };
    auto awaiting = [&](weft::runtime_handle other) -> weft::task<int> {
        co_return co_await other.spawn(remote_forever(&remote_cancelled));
    };
    auto r = b.spawn(awaiting(a.handle()));
    EXPECT_FALSE(r.wait_for(20ms));
    r.cancel();
    EXPECT_THROW((void)r.get(), weft::cancelled_error);
    for (int i = 0; i < 2000 && !remote_cancelled.load(); ++i)
        std::this_thread::sleep_for(1ms);
    EXPECT_TRUE(remote_cancelled.load());
}

// asyncio's use: a loop that some thread runs, fed by another.
TEST(RuntimeHost, RunCoroutineThreadsafeOnALoopInAnotherThread) {
    weft::event_loop loop;
    std::thread driver([&] { loop.run_forever(); });
    auto r = weft::run_coroutine_threadsafe(twice_plus(10, 1), loop);
    EXPECT_EQ(r.get(), 21);
    loop.call_soon_threadsafe([&] { loop.stop(); });
    driver.join();
    loop.close();

    weft::runtime rt(opts(2));
    EXPECT_EQ(weft::run_coroutine_threadsafe(twice_plus(4, 0), rt.handle()).get(), 8);
    EXPECT_EQ(weft::run_coroutine_threadsafe(twice_plus(5, 0), rt).get(), 10);
}

TEST(RuntimeHost, CancelBeforeStartNeverRunsTheTask) {
    weft::event_loop loop;  // not running yet: the task cannot start
    std::atomic<bool> ran{false};
    auto body = [](std::atomic<bool>* f) -> weft::task<int> {
        f->store(true);
        co_return 1;
    };
    auto r = weft::run_coroutine_threadsafe(body(&ran), loop);
    EXPECT_TRUE(r.cancel());
    std::thread driver([&] { loop.run_until([&] { return r.done(); }); });
    driver.join();
    EXPECT_THROW((void)r.get(), weft::cancelled_error);
    EXPECT_FALSE(ran.load());
    loop.close();
}

TEST(RuntimeHost, ThreadNamesAndHooks) {
    for (int threads : {1, 3}) {
        std::atomic<int> starts{0}, stops{0};
        {
            weft::runtime_options o = opts(threads);
            o.thread_name_prefix = "rpc-weft-pool";
            o.on_thread_start = [&] { starts.fetch_add(1); };
            o.on_thread_stop = [&] { stops.fetch_add(1); };
            weft::runtime rt(o);
            auto name = []() -> weft::task<std::string> {
                char buf[32] = {};
                pthread_getname_np(pthread_self(), buf, sizeof buf);
                co_return buf;
            };
            std::string n = rt.block_on(name());
            EXPECT_EQ(n.rfind("rpc-weft-pool-", 0), 0u) << n;  // cut to 15 characters
            EXPECT_EQ(n.size(), 15u) << n;
        }
        // Joined: every thread has run both hooks.
        EXPECT_EQ(stops.load(), starts.load()) << "threads: " << threads;
        EXPECT_GE(starts.load(), threads);
    }
}

TEST(RuntimeHost, BadOptionsRaise) {
    EXPECT_THROW(weft::runtime(opts(-1)), std::invalid_argument);
    weft::runtime_options o = opts(2);
    o.blocking_threshold = std::chrono::nanoseconds(-1);
    EXPECT_THROW(weft::runtime{o}, std::invalid_argument);
}

// The runtime leaves the process's signals alone (weft::run handles Ctrl-C;
// a hosted runtime does not).
TEST(RuntimeHost, LeavesSigintAlone) {
    auto disposition = [] {
        struct sigaction sa {};
        sigaction(SIGINT, nullptr, &sa);
        return reinterpret_cast<void*>(sa.sa_handler);
    };
    void* before = disposition();
    for (int threads : {1, 2}) {
        weft::runtime rt(opts(threads));
        EXPECT_EQ(disposition(), before);
        auto look = [&]() -> weft::task<void*> { co_return disposition(); };
        EXPECT_EQ(rt.block_on(look()), before);
        EXPECT_EQ(disposition(), before);
        rt.shutdown(1s);
        EXPECT_EQ(disposition(), before);
    }
    EXPECT_EQ(disposition(), before);
}

// A thread stuck inside a task step cannot be stopped: shutdown returns at
// the deadline anyway, leaves that thread running (detached), and the thread
// frees the runtime's state once its step returns.
TEST(RuntimeHost, ShutdownAbandonsAThreadBlockedInAStep) {
    for (int threads : {1, 2}) {
        std::atomic<int> starts{0}, stops{0};
        std::atomic<bool> inside{false};
        auto blocker = [](std::atomic<bool>* in) -> weft::task<void> {
            in->store(true);
            // Blocks its thread, deaf to cancellation; long enough that it
            // is still blocked when the shutdown (and its dump) are over.
            std::this_thread::sleep_for(1500ms);
            co_return;
        };
        weft::runtime_options o = opts(threads);
        o.on_thread_start = [&] { starts.fetch_add(1); };
        o.on_thread_stop = [&] { stops.fetch_add(1); };
        auto t0 = clock_type::now();
        {
            weft::runtime rt(o);
            auto r = rt.spawn(blocker(&inside), "blocker");
            while (!inside.load())
                std::this_thread::sleep_for(1ms);
            auto s0 = clock_type::now();
            weft::shutdown_report rep = rt.shutdown(100ms);
            auto took = clock_type::now() - s0;
            EXPECT_LT(took, 100ms + shutdown_slack)
                << "threads " << threads << ": "
                << std::chrono::duration<double, std::milli>(took).count();
            EXPECT_FALSE(rep.empty());
            EXPECT_TRUE(rep.threads_abandoned) << "threads " << threads;
            EXPECT_FALSE(r.done());
        }
        // Once the step returns, the abandoned thread stops and the state is
        // freed: every thread that started also ran its stop hook.
        while (stops.load() != starts.load() && clock_type::now() - t0 < 10s)
            std::this_thread::sleep_for(5ms);
        EXPECT_EQ(stops.load(), starts.load()) << "threads " << threads;
    }
}

// weft::run's shutdown_timeout: the final cancellation gives up on a task
// that swallows it, names it on stderr, and run returns.
weft::task<int> main_leaving_a_stubborn_task() {
    auto stubborn = []() -> weft::task<void> {
        for (;;) {
            try {
                co_await weft::sleep(5ms);
            } catch (const weft::cancelled_error&) {
            }
        }
    };
    weft::create_task(stubborn(), "left-behind");
    co_await weft::sleep(10ms);
    co_return 3;
}

TEST_P(RuntimeModes, RunShutdownTimeout) {
    weft::run_options o;
    o.threads = GetParam();
    o.shutdown_timeout = 100ms;
    testing::internal::CaptureStderr();
    auto t0 = clock_type::now();
    int v = weft::run(main_leaving_a_stubborn_task(), o);
    auto took = clock_type::now() - t0;
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(v, 3);
    EXPECT_LT(took, 2s);
    EXPECT_NE(err.find("shutdown_timeout passed"), std::string::npos) << err;
    EXPECT_NE(err.find("left-behind"), std::string::npos) << err;
    o.shutdown_timeout = -1ms;
    EXPECT_THROW(weft::run(main_leaving_a_stubborn_task(), o), std::invalid_argument);
}

TEST(RuntimeHost, ShutdownTimeoutOptionIsTheDefaultDeadline) {
    weft::runtime_options o = opts(1);
    o.shutdown_timeout = 50ms;
    weft::runtime rt(o);
    std::atomic<bool> started{false};
    auto stubborn = [](std::atomic<bool>* s) -> weft::task<void> {
        s->store(true);
        for (;;) {
            try {
                co_await weft::sleep(5ms);
            } catch (const weft::cancelled_error&) {
            }
        }
    };
    auto r = rt.spawn(stubborn(&started), "deaf");
    while (!started.load())
        std::this_thread::sleep_for(1ms);
    auto t0 = clock_type::now();
    EXPECT_FALSE(rt.shutdown().empty());
    EXPECT_LT(clock_type::now() - t0, 1s);
}

}  // namespace
