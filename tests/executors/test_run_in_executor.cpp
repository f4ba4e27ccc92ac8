// run_in_executor and to_thread: results and exceptions come back to the
// awaiting task; cancellation follows asyncio; the default executor lives
// and dies with the loop. Every test runs in asyncio mode (1 thread) and in
// Go mode (2 workers), where the task may resume on another worker.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

class gate {
public:
    void open() {
        std::lock_guard lock(m_);
        open_ = true;
        cv_.notify_all();
    }
    void pass() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return open_; });
    }
    void pass_within(std::chrono::milliseconds limit) {
        std::unique_lock lock(m_);
        cv_.wait_for(lock, limit, [&] { return open_; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool open_ = false;
};

int twice(int x) {
    if (x < 0) throw std::invalid_argument("negative: " + std::to_string(x));
    return x * 2;
}

class RunInExecutor : public ::testing::TestWithParam<int> {
protected:
    template <class T>
    T run(weft::task<T> t) {
        return weft::run(std::move(t), {.threads = GetParam()});
    }
};

INSTANTIATE_TEST_SUITE_P(Modes, RunInExecutor, ::testing::Values(1, 2),
                         [](const auto& p) { return p.param == 1 ? "asyncio" : "go2"; });

}  // namespace

TEST_P(RunInExecutor, ResultsComeBackToTheTask) {
    int r = run([]() -> weft::task<int> {
        weft::thread_pool_executor pool(2);
        int a = co_await weft::run_in_executor(pool, twice, 10);
        int b = co_await weft::run_in_executor(nullptr, twice, 11);
        int c = co_await weft::to_thread(twice, 12);
        std::string s = co_await weft::to_thread([](std::string x) { return x + x; }, "ab");
        co_await weft::to_thread([] {});  // void
        co_return a + b + c + static_cast<int>(s.size());
    }());
    EXPECT_EQ(r, 20 + 22 + 24 + 4);
}

TEST_P(RunInExecutor, ExceptionsKeepTheirTypeAndMessage) {
    std::string what = run([]() -> weft::task<std::string> {
        try {
            co_await weft::to_thread(twice, -4);
        } catch (const std::invalid_argument& e) {
            co_return e.what();
        }
        co_return "no exception";
    }());
    EXPECT_EQ(what, "negative: -4");
}

TEST_P(RunInExecutor, CallsSubmittedTogetherRunSideBySide) {
    // Each job waits until all three have started: they only finish if they
    // run at the same time. Gathered in argument order.
    auto r = run([]() -> weft::task<std::vector<int>> {
        std::atomic<int> started{0};
        auto job = [&started](int x) {
            started.fetch_add(1);
            auto deadline = std::chrono::steady_clock::now() + 10s;
            while (started.load() < 3 && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(1ms);
            return x;
        };
        std::vector<weft::executor_future<int>> fs;
        for (int i = 0; i < 3; ++i)
            fs.push_back(weft::run_in_executor(nullptr, job, i));
        co_return co_await weft::gather(std::move(fs));
    }());
    EXPECT_EQ(r, (std::vector<int>{0, 1, 2}));
}

TEST_P(RunInExecutor, TheLoopKeepsRunningWhileAJobBlocks) {
    int ticks = run([]() -> weft::task<int> {
        int n = 0;
        auto ticker = weft::create_task([](int* count) -> weft::task<void> {
            for (;;) {
                co_await weft::sleep(0.005);
                ++*count;
            }
        }(&n));
        co_await weft::to_thread([] { std::this_thread::sleep_for(100ms); });
        ticker.cancel();
        co_return n;
    }());
    EXPECT_GE(ticks, 5);  // 20 expected; a loaded machine still gets a few
}

TEST_P(RunInExecutor, CancellingTheTaskWhileTheJobRunsWakesItAtOnceAndDropsTheResult) {
    auto g = std::make_shared<gate>();
    auto finished = std::make_shared<std::atomic<bool>>(false);
    bool cancelled = run([](std::shared_ptr<gate> g2,
                            std::shared_ptr<std::atomic<bool>> fin) -> weft::task<bool> {
        weft::thread_pool_executor pool(1);
        std::atomic<bool> started{false};
        auto waiter = weft::create_task([](weft::thread_pool_executor& p, std::shared_ptr<gate> gg,
                                           std::shared_ptr<std::atomic<bool>> f,
                                           std::atomic<bool>* s) -> weft::task<int> {
            // Named, not written inside the co_await: GCC 12 destroys a
            // lambda temporary with captures in a co_await expression twice
            // (footguns.md).
            auto job = [gg, f, s] {
                *s = true;
                gg->pass();
                *f = true;
                return 1;
            };
            co_return co_await weft::run_in_executor(p, job);
        }(pool, g2, fin, &started));
        while (!started)
            co_await weft::sleep(0.001);
        waiter.cancel("stop");
        bool was_cancelled = false;
        try {
            co_await waiter;
        } catch (const weft::cancelled_error& e) {
            was_cancelled = e.message() == "stop";
        }
        // The task ended while the job still runs (asyncio: the thread cannot
        // be stopped); the job finishes when let go, its result dropped.
        EXPECT_FALSE(fin->load());
        g2->open();
        pool.shutdown();
        EXPECT_TRUE(fin->load());
        co_return was_cancelled;
    }(g, finished));
    EXPECT_TRUE(cancelled);
}

TEST_P(RunInExecutor, CancellingTheTaskWhileTheJobIsQueuedMeansItNeverRuns) {
    bool ran = run([]() -> weft::task<bool> {
        weft::thread_pool_executor pool(1);
        gate g;
        std::atomic<bool> ran_queued{false};
        auto busy = weft::run_in_executor(pool, [&g] { g.pass(); });
        auto waiter = weft::create_task(
            [](weft::thread_pool_executor& p, std::atomic<bool>* r) -> weft::task<void> {
                co_await weft::run_in_executor(p, [r] { *r = true; });
            }(pool, &ran_queued));
        co_await weft::sleep(0.01);
        waiter.cancel();
        try {
            co_await waiter;
        } catch (const weft::cancelled_error&) {
        }
        g.open();
        co_await busy;
        pool.shutdown();
        co_return ran_queued.load();
    }());
    EXPECT_FALSE(ran);
}

TEST_P(RunInExecutor, CancellingTheFutureCancelsLikeAnAsyncioFuture) {
    run([]() -> weft::task<void> {
        weft::thread_pool_executor pool(1);
        gate g;
        auto f = weft::run_in_executor(pool, [&g] {
            g.pass();
            return 3;
        });
        co_await weft::sleep(0.01);
        EXPECT_TRUE(f.cancel());  // asyncio: even while running
        EXPECT_TRUE(f.cancelled());
        g.open();
        pool.shutdown();
        EXPECT_TRUE(f.cancelled());  // the late result was dropped
        co_return;
    }());
}

TEST_P(RunInExecutor, AwaitingSubmitsFutureAndBeingCancelledDropsTheResult) {
    run([]() -> weft::task<void> {
        weft::thread_pool_executor pool(1);
        gate g;
        auto f = pool.submit([&g] {
            g.pass();
            return 3;
        });
        auto waiter = weft::create_task(
            [](weft::executor_future<int> fut) -> weft::task<int> { co_return co_await fut; }(f));
        co_await weft::sleep(0.01);
        waiter.cancel();
        EXPECT_THROW(co_await waiter, weft::cancelled_error);
        EXPECT_FALSE(f.cancelled());  // concurrent.futures: a running job is not cancelled
        g.open();
        EXPECT_EQ(f.get(), 3);  // and its result is still there for others
    }());
}

TEST_P(RunInExecutor, ExecutorFuturesWorkWithTheCombinators) {
    run([]() -> weft::task<void> {
        weft::thread_pool_executor pool(2);
        auto [a, b] = co_await weft::gather(pool.submit(twice, 1), weft::to_thread(twice, 2));
        EXPECT_EQ(a + b, 6);
        int c = co_await weft::wait_for(pool.submit(twice, 3), 5.0);
        EXPECT_EQ(c, 6);
        auto slow = weft::run_in_executor(pool, [] { std::this_thread::sleep_for(200ms); });
        EXPECT_THROW(co_await weft::wait_for(slow, 0.01), weft::timeout_error);
        EXPECT_TRUE(slow.cancelled());
        std::vector<int> inputs{1, 2, 3};  // (a braced list inside co_await trips GCC 12)
        std::vector<int> all = co_await pool.map(twice, inputs);
        EXPECT_EQ(all, (std::vector<int>{2, 4, 6}));
    }());
}

TEST_P(RunInExecutor, DefaultExecutorIsOnePerRunAndShutsDownWithIt) {
    std::atomic<bool> finished{false};
    weft::thread_pool_executor* first = nullptr;
    run([](std::atomic<bool>* fin, weft::thread_pool_executor** ex) -> weft::task<void> {
        *ex = &weft::default_executor();
        EXPECT_EQ(*ex, &weft::default_executor());
        EXPECT_EQ((*ex)->max_workers(), weft::thread_pool_executor::default_max_workers());
        // Not awaited: weft::run's end waits for it, as asyncio.run does.
        (void)weft::to_thread([fin] {
            std::this_thread::sleep_for(50ms);
            *fin = true;
        });
        co_return;
    }(&finished, &first));
    EXPECT_TRUE(finished.load());
    EXPECT_NE(first, nullptr);
}

TEST_P(RunInExecutor, SetDefaultExecutor) {
    run([]() -> weft::task<void> {
        auto mine = std::make_shared<weft::thread_pool_executor>(3);
        weft::set_default_executor(mine);
        EXPECT_EQ(&weft::default_executor(), mine.get());
        EXPECT_EQ(co_await weft::to_thread(twice, 4), 8);
        EXPECT_THROW(weft::set_default_executor(nullptr), std::invalid_argument);
    }());
}

TEST_P(RunInExecutor, ShutdownCallbacksRunWhenTheRunEnds) {
    std::atomic<int> calls{0};
    run([](std::atomic<int>* n) -> weft::task<void> {
        weft::get_running_loop().add_shutdown_callback([n] { n->fetch_add(1); });
        weft::get_running_loop().add_shutdown_callback(
            [] { throw std::runtime_error("reported"); });
        EXPECT_EQ(n->load(), 0);
        co_return;
    }(&calls));
    EXPECT_EQ(calls.load(), 1);
}

TEST_P(RunInExecutor, SubmittingToAShutDownExecutorRaises) {
    run([]() -> weft::task<void> {
        weft::thread_pool_executor pool(1);
        pool.shutdown();
        EXPECT_THROW((void)weft::run_in_executor(pool, twice, 1), weft::executor_shutdown_error);
        co_return;
    }());
}

TEST(RunInExecutorOutsideALoop, RaisesNoRunningLoop) {
    weft::thread_pool_executor pool(1);
    EXPECT_THROW((void)weft::run_in_executor(pool, twice, 1), weft::no_running_loop_error);
    EXPECT_THROW((void)weft::to_thread(twice, 1), weft::no_running_loop_error);
    EXPECT_THROW(weft::default_executor(), weft::no_running_loop_error);
}

weft::task<int> wait_on_job(weft::thread_pool_executor& pool, gate& g, std::atomic<bool>& started) {
    co_return co_await weft::run_in_executor(pool, [&g, &started] {
        started = true;
        g.pass();
        return 1;
    });
}

// A loop closed with a task still waiting on a job, first while the task
// polls for the result, then once it has parked on the future: the awaiter
// leaves the job's future, and the job's late completion touches nothing
// freed (ASan checks).
void close_loop_while_waiting(double park_for) {
    weft::thread_pool_executor pool(1);
    gate g;
    std::atomic<bool> started{false};
    {
        weft::event_loop loop;
        loop.set_exception_handler([](weft::event_loop&, const weft::exception_context&) {});
        auto t = loop.create_task(wait_on_job(pool, g, started));
        // A ticker, so that the loop looks at `started` now and then even
        // once the task has parked (nothing else would wake it).
        std::function<void()> tick = [&] {
            if (!started) loop.call_later(0.001, tick);
        };
        loop.call_soon(tick);
        loop.run_until([&] { return started.load(); });
        if (park_for > 0) {
            bool woke = false;
            loop.call_later(park_for, [&] { woke = true; });
            loop.run_until([&] { return woke; });
        }
        loop.close();
    }
    g.open();
    pool.shutdown();
}

TEST(RunInExecutorLoopClose, WhilePolling) {
    close_loop_while_waiting(0);
}

TEST(RunInExecutorLoopClose, WhileParked) {
    close_loop_while_waiting(0.01);
}

TEST(RunInExecutorBareLoop, DefaultExecutorShutsDownAtClose) {
    std::atomic<bool> finished{false};
    weft::event_loop loop;
    loop.run_until_complete([](std::atomic<bool>* fin) -> weft::task<void> {
        (void)weft::to_thread([fin] {
            std::this_thread::sleep_for(30ms);
            *fin = true;
        });
        co_return;
    }(&finished));
    loop.close();
    EXPECT_TRUE(finished.load());
}

// ---- giving up on a submit() future: wait_for, timeout scopes, cancel

namespace {

// A job that holds its thread until the test lets it go, or for 3 s at most
// (a wait that does not give up at its deadline fails the test instead of
// hanging it).
int held_until_open(std::shared_ptr<gate> g, std::shared_ptr<std::atomic<bool>> started) {
    started->store(true);
    g->pass_within(3s);
    return 7;
}

weft::task<void> until_started(const std::atomic<bool>& started) {
    while (!started.load())
        co_await weft::sleep(0.005);
}

}  // namespace

TEST_P(RunInExecutor, WaitForGivesUpOnARunningSubmittedJobAtTheDeadline) {
    // asyncio: wait_for(wrap_future(pool.submit(f)), 0.5) raises TimeoutError
    // at 0.5 s; the thread cannot be stopped, so the job runs on unobserved
    // and concurrent.futures' future still gets its result.
    run([]() -> weft::task<void> {
        weft::thread_pool_executor pool(1);
        auto g = std::make_shared<gate>();
        auto started = std::make_shared<std::atomic<bool>>(false);
        auto f = pool.submit(held_until_open, g, started);
        co_await until_started(*started);
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_THROW(co_await weft::wait_for(f, 0.5), weft::timeout_error);
        auto waited = std::chrono::steady_clock::now() - t0;
        EXPECT_GE(waited, 450ms);
        EXPECT_LT(waited, 1500ms);
        EXPECT_FALSE(f.done());  // still running, not cancelled
        g->open();
        EXPECT_EQ(co_await f, 7);
        EXPECT_EQ(co_await pool.submit(twice, 2), 4);  // the pool goes on
    }());
}

TEST_P(RunInExecutor, AJobGivenUpOnFinishesLaterWithNobodyLeftToTell) {
    // The awaiting task and every handle on the future are gone when the job
    // ends: its result is dropped, nothing leaks (ASan) and nothing crashes.
    auto g = std::make_shared<gate>();
    auto started = std::make_shared<std::atomic<bool>>(false);
    {
        weft::thread_pool_executor pool(1);
        run([](weft::thread_pool_executor& p, std::shared_ptr<gate> gt,
               std::shared_ptr<std::atomic<bool>> st) -> weft::task<void> {
            auto giver_up =
                weft::create_task([](weft::thread_pool_executor& pp, std::shared_ptr<gate> g2,
                                     std::shared_ptr<std::atomic<bool>> s2) -> weft::task<bool> {
                    try {
                        co_await weft::wait_for(pp.submit(held_until_open, g2, s2), 0.2);
                    } catch (const weft::timeout_error&) {
                        co_return true;
                    }
                    co_return false;
                }(p, gt, st));
            EXPECT_TRUE(co_await giver_up);
            EXPECT_TRUE(st->load());
        }(pool, g, started));
        g->open();  // the job ends after its loop is gone; the pool joins it
    }
    EXPECT_TRUE(started->load());
}

TEST_P(RunInExecutor, ATimeoutScopeGivesUpOnARunningSubmittedJob) {
    run([]() -> weft::task<void> {
        weft::thread_pool_executor pool(1);
        auto g = std::make_shared<gate>();
        auto started = std::make_shared<std::atomic<bool>>(false);
        auto f = pool.submit(held_until_open, g, started);
        co_await until_started(*started);
        auto t0 = std::chrono::steady_clock::now();
        weft::timeout_scope scope = weft::timeout(0.5);
        // Inside a wait_for of its own as well as awaited directly: both give up.
        EXPECT_THROW(co_await scope.run([](weft::executor_future<int> fut) -> weft::task<void> {
            co_await weft::wait_for(fut, 60.0);
        }(f)),
                     weft::timeout_error);
        auto waited = std::chrono::steady_clock::now() - t0;
        EXPECT_GE(waited, 450ms);
        EXPECT_LT(waited, 1500ms);
        weft::timeout_scope direct = weft::timeout(0.2);
        EXPECT_THROW(co_await direct.run([](weft::executor_future<int> fut) -> weft::task<void> {
            co_await fut;
        }(f)),
                     weft::timeout_error);
        EXPECT_FALSE(f.done());
        g->open();
        EXPECT_EQ(co_await f, 7);
        EXPECT_EQ(co_await pool.submit(twice, 3), 6);
    }());
}

TEST_P(RunInExecutor, TwoCancelsOfATaskAwaitingAJobAreOne) {
    run([]() -> weft::task<void> {
        weft::thread_pool_executor pool(1);
        auto g = std::make_shared<gate>();
        auto started = std::make_shared<std::atomic<bool>>(false);
        auto f = pool.submit(held_until_open, g, started);
        co_await until_started(*started);
        auto waiter = weft::create_task([](weft::executor_future<int> fut) -> weft::task<int> {
            int errors = 0;
            try {
                co_await fut;
            } catch (const weft::cancelled_error& e) {
                ++errors;
                EXPECT_EQ(e.message(), "first");
                EXPECT_EQ(weft::current_task().uncancel(), 1);
            }
            try {
                co_await weft::sleep(0.01);
            } catch (const weft::cancelled_error&) {
                ++errors;  // the second cancel delivered again
            }
            co_return errors;
        }(f));
        co_await weft::sleep(0.05);
        EXPECT_TRUE(waiter.cancel("first"));
        EXPECT_TRUE(waiter.cancel("second"));  // same step: the waiter cannot run between
        EXPECT_EQ(co_await waiter, 1);
        g->open();
        EXPECT_EQ(co_await f, 7);
    }());
}

// Many tasks at once, each giving up on a job still queued or running at a
// wait_for deadline: each raises timeout_error, and nothing is freed twice.
TEST_P(RunInExecutor, ManyWaitForsGivingUpOnQueuedJobsAtOnce) {
    int timed_out = run([]() -> weft::task<int> {
        std::atomic<int> count{0};
        auto one = [](std::atomic<int>& n) -> weft::task<void> {
            try {
                co_await weft::wait_for(
                    weft::to_thread([] {
                        std::this_thread::sleep_for(std::chrono::milliseconds(200));
                        return 1;
                    }),
                    0.05);
            } catch (const weft::timeout_error&) {
                n.fetch_add(1, std::memory_order_relaxed);
            }
        };
        std::vector<weft::task<void>> all;
        for (int i = 0; i < 50; ++i)
            all.push_back(one(count));
        co_await weft::gather(std::move(all));
        co_return count.load();
    }());
    EXPECT_EQ(timed_out, 50);
}
