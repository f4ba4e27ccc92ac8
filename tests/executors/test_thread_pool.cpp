// thread_pool_executor as concurrent.futures.ThreadPoolExecutor: submit and
// the thread-safe future from plain threads, map, shutdown, bad input.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

// A gate jobs wait at until the test opens it.
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

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool open_ = false;
};

int twice(int x) {
    return x * 2;
}

}  // namespace

TEST(ThreadPool, SubmitReturnsAFutureAPlainThreadCanWaitFor) {
    weft::thread_pool_executor pool(2);
    weft::executor_future<int> f = pool.submit(twice, 21);
    EXPECT_EQ(f.get(), 42);
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.cancelled());
    EXPECT_FALSE(f.running());
    EXPECT_EQ(f.exception(), nullptr);
}

TEST(ThreadPool, ArgumentsAreCopiedAndResultsMoved) {
    weft::thread_pool_executor pool(1);
    std::string s = "abc";
    auto f = pool.submit([](std::string v) { return v + "!"; }, s);
    s = "changed";
    EXPECT_EQ(f.get(), "abc!");
    auto g = pool.submit([](std::unique_ptr<int> p) { return *p + 1; }, std::make_unique<int>(41));
    EXPECT_EQ(g.get(), 42);
    int counter = 0;
    pool.submit([](int& c) { c = 7; }, std::ref(counter)).get();
    EXPECT_EQ(counter, 7);
}

TEST(ThreadPool, WaitForTimesOutThenSucceeds) {
    weft::thread_pool_executor pool(1);
    gate g;
    auto f = pool.submit([&] {
        g.pass();
        return 5;
    });
    EXPECT_EQ(f.wait_for(10ms), std::future_status::timeout);
    EXPECT_THROW(f.result(0.01), weft::timeout_error);
    EXPECT_TRUE(f.running() || !f.done());
    g.open();
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.result(1.0), 5);
    EXPECT_EQ(f.wait_until(std::chrono::steady_clock::now()), std::future_status::ready);
}

TEST(ThreadPool, ExceptionsKeepTheirTypeAndMessage) {
    weft::thread_pool_executor pool(1);
    auto f = pool.submit([]() -> int { throw std::out_of_range("index 9"); });
    try {
        f.get();
        FAIL() << "no exception";
    } catch (const std::out_of_range& e) {
        EXPECT_STREQ(e.what(), "index 9");
    }
    EXPECT_EQ(weft::describe(f.exception()), "std::out_of_range: index 9");
}

TEST(ThreadPool, RunsUpToMaxWorkersJobsAtOnce) {
    // Four jobs that each wait for all four to have started: they finish only
    // if the pool really runs four at a time (TBB alone would give one per
    // core, and this machine may have two).
    constexpr int n = 4;
    weft::thread_pool_executor pool(n);
    std::atomic<int> started{0};
    std::vector<weft::executor_future<void>> fs;
    for (int i = 0; i < n; ++i) {
        fs.push_back(pool.submit([&] {
            started.fetch_add(1);
            auto deadline = std::chrono::steady_clock::now() + 10s;
            while (started.load() < n && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(1ms);
        }));
    }
    for (auto& f : fs)
        f.get();
    EXPECT_EQ(started.load(), n);
}

TEST(ThreadPool, JobsStartInSubmissionOrder) {
    weft::thread_pool_executor pool(1);
    std::vector<int> order;
    std::mutex m;
    std::vector<weft::executor_future<void>> fs;
    for (int i = 0; i < 50; ++i) {
        fs.push_back(pool.submit([&, i] {
            std::lock_guard lock(m);
            order.push_back(i);
        }));
    }
    for (auto& f : fs)
        f.get();
    for (int i = 0; i < 50; ++i)
        EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

TEST(ThreadPool, CancelWorksOnlyBeforeTheJobStarts) {
    weft::thread_pool_executor pool(1);
    gate g;
    std::atomic<bool> started{false};
    auto running = pool.submit([&] {
        started = true;
        g.pass();
    });
    std::atomic<bool> ran{false};
    auto queued = pool.submit([&] { ran = true; });
    while (!started)
        std::this_thread::sleep_for(1ms);
    EXPECT_FALSE(running.cancel());  // concurrent.futures: a running job stays
    EXPECT_TRUE(queued.cancel("not needed"));
    EXPECT_TRUE(queued.cancelled());
    g.open();
    running.get();
    pool.shutdown();
    EXPECT_FALSE(ran.load());
    try {
        queued.get();
        FAIL() << "no cancelled_error";
    } catch (const weft::cancelled_error& e) {
        EXPECT_EQ(e.message(), "not needed");
    }
}

TEST(ThreadPool, MapKeepsInputOrderAndStopsAtTheShortestRange) {
    weft::thread_pool_executor pool(3);
    std::vector<int> got;
    for (int r : pool.map([](int a, long b) { return a * static_cast<int>(b); },
                          std::vector<int>{1, 2, 3, 4}, std::vector<long>{10, 20, 30}))
        got.push_back(r);
    EXPECT_EQ(got, (std::vector<int>{10, 40, 90}));
    EXPECT_EQ(pool.map(twice, std::vector<int>{5, 6}).get(), (std::vector<int>{10, 12}));
}

TEST(ThreadPool, MapRethrowsTheFirstFailureInOrderAndCancelsTheRest) {
    weft::thread_pool_executor pool(1);
    gate g;
    auto blocker = pool.submit([&] { g.pass(); });
    std::atomic<int> runs{0};
    auto results = pool.map(
        [&](int x) {
            runs.fetch_add(1);
            if (x == 1) throw std::invalid_argument("one");
            return x;
        },
        std::vector<int>{0, 1, 2, 3});
    g.open();
    EXPECT_THROW(results.get(), std::invalid_argument);
    pool.shutdown();
    // 2 and 3 were cancelled when 1 failed, unless they had started by then.
    EXPECT_LE(runs.load(), 4);
    EXPECT_GE(runs.load(), 2);
}

TEST(ThreadPool, ShutdownWaitsForRunningJobs) {
    weft::thread_pool_executor pool(2);
    std::atomic<int> done{0};
    for (int i = 0; i < 4; ++i) {
        pool.submit([&] {
            std::this_thread::sleep_for(20ms);
            done.fetch_add(1);
        });
    }
    pool.shutdown(true);
    EXPECT_EQ(done.load(), 4);
    EXPECT_TRUE(pool.is_shutdown());
}

TEST(ThreadPool, ShutdownWithCancelFuturesCancelsWhatHasNotStarted) {
    weft::thread_pool_executor pool(1);
    gate g;
    std::atomic<bool> started{false};
    auto first = pool.submit([&] {
        started = true;
        g.pass();
        return 1;
    });
    std::vector<weft::executor_future<int>> queued;
    for (int i = 0; i < 5; ++i)
        queued.push_back(pool.submit(twice, i));
    while (!started)
        std::this_thread::sleep_for(1ms);
    pool.shutdown(false, true);
    for (auto& f : queued)
        EXPECT_TRUE(f.cancelled());  // at once, as in Python
    g.open();
    EXPECT_EQ(first.get(), 1);
}

TEST(ThreadPool, SubmittingAfterShutdownRaises) {
    weft::thread_pool_executor pool(1);
    pool.shutdown();
    try {
        pool.submit(twice, 1);
        FAIL() << "no executor_shutdown_error";
    } catch (const weft::executor_shutdown_error& e) {
        EXPECT_NE(std::string(e.what()).find("after shutdown"), std::string::npos);
    }
}

TEST(ThreadPool, MaxWorkersMustBePositive) {
    EXPECT_THROW(weft::thread_pool_executor(0), std::invalid_argument);
    EXPECT_THROW(weft::thread_pool_executor(-3), std::invalid_argument);
    try {
        weft::thread_pool_executor pool(0);
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("max_workers"), std::string::npos);
    }
}

TEST(ThreadPool, DefaultSizeIsPythons) {
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    EXPECT_EQ(weft::thread_pool_executor::default_max_workers(),
              static_cast<int>(std::min(32u, cores + 4)));
    weft::thread_pool_executor pool;
    EXPECT_EQ(pool.max_workers(), weft::thread_pool_executor::default_max_workers());
}

TEST(ThreadPool, ShutdownFromOneOfItsOwnJobsWithWaitRaises) {
    weft::thread_pool_executor pool(1);
    auto f = pool.submit([&] { pool.shutdown(true); });
    EXPECT_THROW(f.get(), std::logic_error);
}

TEST(ThreadPool, DoneCallbacksRunOnceTheJobIsDone) {
    weft::thread_pool_executor pool(1);
    std::promise<int> seen;
    auto f = pool.submit(twice, 4);
    f.add_done_callback([&](weft::executor_future<int>& done) { seen.set_value(done.get()); });
    EXPECT_EQ(seen.get_future().get(), 8);
    std::promise<int> late;
    f.add_done_callback([&](weft::executor_future<int>& done) { late.set_value(done.get() + 1); });
    EXPECT_EQ(late.get_future().get(), 9);  // added after completion: runs at once
}

TEST(ThreadPool, AnEmptyFutureSaysSo) {
    weft::executor_future<int> f;
    EXPECT_FALSE(f.valid());
    EXPECT_THROW(f.done(), weft::invalid_state_error);
}

TEST(ThreadPool, DestructorWaitsEvenAfterShutdownWithoutWait) {
    std::atomic<bool> finished{false};
    {
        weft::thread_pool_executor pool(1);
        pool.submit([&] {
            std::this_thread::sleep_for(30ms);
            finished = true;
        });
        pool.shutdown(false);
    }
    EXPECT_TRUE(finished.load());
}
