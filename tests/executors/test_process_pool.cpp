// process_pool_executor: calls in worker processes by address, by name and as
// captureless lambdas; values through the codec; exceptions across the
// process boundary; crashes, kills from outside, cancellation and timeouts
// that fail one call and cost one worker; shutdown that leaves no zombie and
// no orphan; bad input. Most tests run in asyncio mode and in Go mode.
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/detail/config.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;

// ---- what the workers run (plain functions: the workers are forks of this
// program)

namespace {

int square(int x) {
    return x * x;
}

std::string shout(const std::string& s, int times) {
    std::string out;
    for (int i = 0; i < times; ++i)
        out += s + "!";
    return out;
}

std::vector<double> scale(std::vector<double> v, double k) {
    for (double& x : v)
        x *= k;
    return v;
}

std::tuple<int, std::string, std::optional<long>> mixed(std::pair<int, std::string> p) {
    return {p.first + 1, p.second + "?", std::nullopt};
}

int my_pid() {
    return static_cast<int>(::getpid());
}

int sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return static_cast<int>(::getpid());
}

// A call that never ends by itself.
int never_returns(int) {
    for (;;)
        ::pause();
}

enum class crash_kind : int { segfault, abort, exit3, kill_self, none };

int crash(crash_kind how, int value) {
    switch (how) {
        case crash_kind::segfault: {
            volatile int* p = nullptr;
            return *p;
        }
        case crash_kind::abort:
            std::abort();
        case crash_kind::exit3:
            ::_exit(3);
        case crash_kind::kill_self:
            ::kill(::getpid(), SIGKILL);
            std::this_thread::sleep_for(10s);
            return -1;
        case crash_kind::none:
            break;
    }
    return value;
}

void touch(const std::string& path) {
    std::ofstream(path) << "ran\n";
}

int throw_invalid(int x) {
    throw std::invalid_argument("bad value " + std::to_string(x));
}

struct account_error : std::runtime_error {
    explicit account_error(const std::string& m) : std::runtime_error(m) {}
};
struct unknown_error : std::runtime_error {
    explicit unknown_error(const std::string& m) : std::runtime_error(m) {}
};

int throw_account(int) {
    throw account_error("overdrawn");
}
int throw_unknown(int) {
    throw unknown_error("who knows");
}
int throw_int(int) {
    throw 42;
}

}  // namespace

// A user type with its own codec.
struct account {
    std::string owner;
    std::vector<long> moves;
};

template <>
struct weft::codec<account> {
    static void encode(weft::byte_writer& w, const account& a) {
        w.put(a.owner);
        w.put(a.moves);
    }
    static account decode(weft::byte_reader& r) {
        auto owner = r.get<std::string>();
        return {std::move(owner), r.get<std::vector<long>>()};
    }
};

// A result whose decoding, in the parent, takes a while and says when it
// started: a reply read but not yet turned into a value.
struct slow_result {
    int value = 0;
};
std::atomic<bool> slow_decode_started{false};

template <>
struct weft::codec<slow_result> {
    static void encode(weft::byte_writer& w, const slow_result& v) { w.put(v.value); }
    static slow_result decode(weft::byte_reader& r) {
        slow_result out{r.get<int>()};
        slow_decode_started.store(true);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return out;
    }
};

namespace {

slow_result make_slow(int x) {
    return {x};
}

account deposit(account a, long amount) {
    a.moves.push_back(amount);
    return a;
}

// Registered at namespace scope: known to every pool's workers.
const auto square_fn = weft::register_function("square", square);
const auto shout_fn = weft::register_function("shout", shout);

bool sanitized() {
    return WEFT_SANITIZED != 0;
}

bool alive(pid_t pid) {
    if (::kill(pid, 0) != 0) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

// Every child process of this one (all its threads' children).
std::vector<pid_t> children() {
    std::vector<pid_t> out;
    for (auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream f(task.path() / "children");
        pid_t p;
        while (f >> p)
            out.push_back(p);
    }
    return out;
}

weft::task<void> wait_until_gone(pid_t pid) {
    for (int i = 0; i < 500 && alive(pid); ++i)
        co_await weft::sleep(0.01);
}

class ProcessPool : public ::testing::TestWithParam<int> {
protected:
    template <class T>
    T run(weft::task<T> t) {
        return weft::run(std::move(t), {.threads = GetParam()});
    }
};

INSTANTIATE_TEST_SUITE_P(Modes, ProcessPool, ::testing::Values(1, 2),
                         [](const auto& p) { return p.param == 1 ? "asyncio" : "go2"; });

}  // namespace

TEST_P(ProcessPool, RunsFunctionsInOtherProcesses) {
    weft::process_pool_executor pool(2);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        EXPECT_EQ(co_await weft::run_in_executor(p, square, 7), 49);
        int pid = co_await weft::run_in_executor(p, my_pid);
        EXPECT_NE(pid, ::getpid());
        EXPECT_EQ(co_await weft::run_in_executor(p, square_fn, 8), 64);
        EXPECT_EQ(co_await weft::run_in_executor(p, weft::by_name<int>("square"), 9), 81);
        EXPECT_EQ(co_await weft::run_in_executor(
                      p, [](int a, int b) { return a - b; }, 5, 3),
                  2);
        EXPECT_EQ(co_await p.submit(shout_fn, std::string("hey"), 2), "hey!hey!");
        EXPECT_EQ(co_await p.submit(shout, "x", 3), "x!x!x!");  // const char* -> std::string
    }(pool));
}

TEST_P(ProcessPool, ValuesTravelThroughTheCodec) {
    weft::process_pool_executor pool(1);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        std::vector<double> big(200'000, 1.5);  // 1.6 MB each way: many chunks
        auto scaled = co_await weft::run_in_executor(p, scale, big, 2.0);
        EXPECT_EQ(scaled.size(), big.size());
        EXPECT_EQ(scaled, std::vector<double>(200'000, 3.0));
        std::pair<int, std::string> in{1, "a"};
        auto [n, s, o] = co_await weft::run_in_executor(p, mixed, in);
        EXPECT_EQ(n, 2);
        EXPECT_EQ(s, "a?");
        EXPECT_FALSE(o.has_value());
        account before{"ann", {}};
        before.moves = {1, 2};  // (a braced list inside co_await trips GCC 12)
        account a = co_await weft::run_in_executor(p, deposit, before, 3L);
        EXPECT_EQ(a.owner, "ann");
        EXPECT_EQ(a.moves, (std::vector<long>{1, 2, 3}));
    }(pool));
}

TEST_P(ProcessPool, ExceptionsCrossTheProcessBoundary) {
    weft::register_remote_exception<account_error>();
    weft::process_pool_executor pool(1);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        try {
            co_await weft::run_in_executor(p, throw_invalid, 3);
            ADD_FAILURE() << "no exception";
        } catch (const std::invalid_argument& e) {
            EXPECT_STREQ(e.what(), "bad value 3");
        }
        try {
            co_await weft::run_in_executor(p, throw_account, 0);
            ADD_FAILURE() << "no exception";
        } catch (const account_error& e) {
            EXPECT_STREQ(e.what(), "overdrawn");
        }
        try {
            co_await weft::run_in_executor(p, throw_unknown, 0);
            ADD_FAILURE() << "no exception";
        } catch (const weft::remote_error& e) {
            EXPECT_NE(e.type_name().find("unknown_error"), std::string::npos);
            EXPECT_EQ(e.message(), "who knows");
        }
        try {
            co_await weft::run_in_executor(p, throw_int, 0);
            ADD_FAILURE() << "no exception";
        } catch (const weft::remote_error& e) {
            EXPECT_EQ(e.type_name(), "int");
        }
        EXPECT_EQ(co_await weft::run_in_executor(p, square, 3), 9);  // the worker lives on
    }(pool));
}

TEST_P(ProcessPool, ACrashFailsOnlyItsCallAndAFreshWorkerTakesOver) {
    weft::process_pool_executor pool(2);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        struct expect {
            crash_kind how;
            int signal;     // 0: exits
            int exit_code;  // -1: killed
        };
        // Under a sanitizer a segfault is reported by the sanitizer, and the
        // worker exits with its status (ASan 1, TSan 66): -2 accepts any.
        for (expect e :
             {expect{crash_kind::segfault, sanitized() ? 0 : SIGSEGV, sanitized() ? -2 : -1},
              expect{crash_kind::abort, SIGABRT, -1}, expect{crash_kind::exit3, 0, 3},
              expect{crash_kind::kill_self, SIGKILL, -1}}) {
            // A healthy call beside the crashing one completes.
            auto other = weft::run_in_executor(p, sleep_ms, 20);
            try {
                co_await weft::run_in_executor(p, crash, e.how, 1);
                ADD_FAILURE() << "no error";
            } catch (const weft::worker_died_error& err) {
                EXPECT_EQ(err.signal(), e.signal) << err.what();
                if (e.exit_code == -2) {
                    EXPECT_GT(err.exit_code(), 0) << err.what();
                } else {
                    EXPECT_EQ(err.exit_code(), e.exit_code) << err.what();
                }
                std::string what = err.what();
                if (e.signal == SIGABRT) {
                    EXPECT_NE(what.find("SIGABRT"), std::string::npos) << what;
                }
                if (e.exit_code == 3) {
                    EXPECT_NE(what.find("status 3"), std::string::npos) << what;
                }
                EXPECT_NE(what.find(std::to_string(err.pid())), std::string::npos) << what;
            }
            EXPECT_GT(co_await other, 0);
        }
        EXPECT_EQ(co_await weft::run_in_executor(p, crash, crash_kind::none, 5), 5);
        EXPECT_LE(p.worker_pids().size(), 2u);
    }(pool));
}

TEST_P(ProcessPool, AWorkerKilledFromOutsideFailsItsCall) {
    weft::process_pool_executor pool(1);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        auto f = weft::run_in_executor(p, sleep_ms, 10'000);
        co_await weft::sleep(0.05);
        std::vector<pid_t> pids = p.worker_pids();
        EXPECT_EQ(pids.size(), 1u);
        if (pids.empty()) co_return;
        ::kill(pids[0], SIGKILL);
        try {
            co_await f;
            ADD_FAILURE() << "no error";
        } catch (const weft::worker_died_error& e) {
            EXPECT_EQ(e.signal(), SIGKILL);
            EXPECT_EQ(e.pid(), pids[0]);
            EXPECT_NE(std::string(e.what()).find("SIGKILL"), std::string::npos);
        }
        int next = co_await weft::run_in_executor(p, my_pid);
        EXPECT_NE(next, pids[0]);
    }(pool));
}

TEST_P(ProcessPool, AnIdleWorkerKilledFromOutsideIsReplaced) {
    weft::process_pool_executor pool(1);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        int first = co_await weft::run_in_executor(p, my_pid);
        ::kill(first, SIGKILL);
        co_await wait_until_gone(first);
        int second = co_await weft::run_in_executor(p, my_pid);
        EXPECT_NE(first, second);
    }(pool));
}

TEST_P(ProcessPool, CancellingTheAwaitingTaskKillsTheWorker) {
    weft::process_pool_executor pool(1);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        auto waiter = weft::create_task([](weft::process_pool_executor& pp) -> weft::task<int> {
            co_return co_await weft::run_in_executor(pp, sleep_ms, 10'000);
        }(p));
        co_await weft::sleep(0.05);
        std::vector<pid_t> pids = p.worker_pids();
        EXPECT_EQ(pids.size(), 1u);
        auto t0 = std::chrono::steady_clock::now();
        waiter.cancel();
        EXPECT_THROW(co_await waiter, weft::cancelled_error);
        if (pids.empty()) co_return;
        co_await wait_until_gone(pids[0]);
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // not the 10 s the call wanted
        EXPECT_FALSE(alive(pids[0]));
        int next = co_await weft::run_in_executor(p, my_pid);
        EXPECT_NE(next, pids[0]);
    }(pool));
}

TEST_P(ProcessPool, ACallCancelledWhileQueuedNeverRuns) {
    weft::process_pool_executor pool(1);
    std::string marker = ::testing::TempDir() + "weft_queued_" + std::to_string(::getpid());
    std::filesystem::remove(marker);
    run([](weft::process_pool_executor& p, std::string path) -> weft::task<void> {
        auto busy = weft::run_in_executor(p, sleep_ms, 100);
        auto queued = weft::run_in_executor(p, touch, path);
        co_await weft::sleep(0.01);
        EXPECT_TRUE(queued.cancel());
        EXPECT_THROW(co_await queued, weft::cancelled_error);
        co_await busy;
        auto later = p.submit(touch, path + ".after");  // the pool goes on
        co_await later;
    }(pool, marker));
    pool.shutdown();
    EXPECT_FALSE(std::filesystem::exists(marker));
    EXPECT_TRUE(std::filesystem::exists(marker + ".after"));
    std::filesystem::remove(marker + ".after");
}

TEST_P(ProcessPool, ATimeoutKillsTheWorkerAndFailsTheCall) {
    weft::process_pool_executor pool(1);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        auto t0 = std::chrono::steady_clock::now();
        try {
            co_await p.submit(weft::call_options{.timeout = 0.1}, sleep_ms, 10'000);
            ADD_FAILURE() << "no timeout";
        } catch (const weft::timeout_error& e) {
            EXPECT_NE(std::string(e.what()).find("timeout of 0.1 s"), std::string::npos)
                << e.what();
        }
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
        // A call that makes it in time is unaffected.
        EXPECT_GT(
            co_await weft::run_in_executor(p, weft::call_options{.timeout = 5.0}, sleep_ms, 1), 0);
    }(pool));
}

TEST_P(ProcessPool, ShutdownLeavesNoZombie) {
    std::vector<pid_t> workers;
    pid_t server;
    {
        weft::process_pool_executor pool(3);
        server = pool.fork_server_pid();
        run([](weft::process_pool_executor& p, std::vector<pid_t>* w) -> weft::task<void> {
            std::vector<weft::executor_future<int>> fs;
            for (int i = 0; i < 3; ++i)
                fs.push_back(weft::run_in_executor(p, sleep_ms, 30));
            co_await weft::gather(std::move(fs));
            *w = p.worker_pids();
        }(pool, &workers));
        EXPECT_EQ(workers.size(), 3u);
        EXPECT_EQ(children(), std::vector<pid_t>{server});
        pool.shutdown();
        EXPECT_TRUE(children().empty());
        EXPECT_TRUE(pool.worker_pids().empty());
    }
    EXPECT_FALSE(alive(server));
    for (pid_t w : workers)
        EXPECT_FALSE(alive(w)) << w;
}

TEST_P(ProcessPool, ShutdownWaitingInsideATaskReadsTheResultsItself) {
    run([]() -> weft::task<void> {
        std::vector<weft::executor_future<int>> fs;
        {
            weft::process_pool_executor pool(2);  // as Python's `with` block
            for (int i = 0; i < 5; ++i)
                fs.push_back(pool.submit(square, i));
        }  // the destructor waits: it blocks this loop, which would read them
        for (int i = 0; i < 5; ++i) {
            EXPECT_TRUE(fs[static_cast<std::size_t>(i)].done());
            EXPECT_EQ(co_await fs[static_cast<std::size_t>(i)], i * i);
        }
        EXPECT_TRUE(children().empty());
    }());
}

// A loop read the reply and is still decoding it when another thread shuts
// the pool down waiting: shutdown returns only once the future is finished,
// as concurrent.futures' shutdown(wait=True) does.
TEST_P(ProcessPool, ShutdownWaitsForAReplyAnotherThreadIsStillDecoding) {
    slow_decode_started.store(false);
    weft::process_pool_executor pool(1);
    std::atomic<bool> done_when_shut{false};
    std::atomic<bool> shut{false};
    weft::executor_future<slow_result> f;
    std::atomic<bool> submitted{false};  // `f` is set: the stopper may read it
    std::thread stopper([&] {
        while (!slow_decode_started.load() || !submitted.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        pool.shutdown(true);
        done_when_shut.store(f.done());
        shut.store(true);
    });
    run([](weft::process_pool_executor& p, weft::executor_future<slow_result>& out,
           std::atomic<bool>& ready) -> weft::task<void> {
        out = p.submit(make_slow, 7);
        ready.store(true);
        EXPECT_EQ((co_await out).value, 7);
    }(pool, f, submitted));
    stopper.join();
    EXPECT_TRUE(shut.load());
    EXPECT_TRUE(done_when_shut.load())
        << "shutdown(wait=true) returned before the reply was decoded";
    EXPECT_TRUE(children().empty());
}

TEST_P(ProcessPool, ShutdownWithoutWaitFinishesInTheBackground) {
    run([]() -> weft::task<void> {
        pid_t server;
        weft::executor_future<int> f;
        {
            weft::process_pool_executor pool(1);
            server = pool.fork_server_pid();
            f = pool.submit(sleep_ms, 50);
            pool.shutdown(false);
            EXPECT_THROW((void)pool.submit(square, 1), weft::executor_shutdown_error);
        }  // returns at once: the call is still running
        EXPECT_FALSE(f.done());
        EXPECT_GT(co_await f, 0);
        co_await wait_until_gone(server);
        EXPECT_FALSE(alive(server));
    }());
}

TEST_P(ProcessPool, ShutdownWithCancelFuturesCancelsQueuedCalls) {
    run([]() -> weft::task<void> {
        weft::process_pool_executor pool(1);
        auto running = pool.submit(sleep_ms, 50);
        std::vector<weft::executor_future<int>> queued;
        for (int i = 0; i < 4; ++i)
            queued.push_back(pool.submit(square, i));
        pool.shutdown(true, true);
        EXPECT_TRUE(running.done());
        EXPECT_FALSE(running.cancelled());
        for (auto& f : queued)
            EXPECT_TRUE(f.cancelled());
        co_return;
    }());
}

TEST_P(ProcessPool, ManyTasksShareThePool) {
    weft::process_pool_executor pool(2);
    long total = run([](weft::process_pool_executor& p) -> weft::task<long> {
        std::vector<weft::task<int>> tasks;
        for (int i = 0; i < 40; ++i) {
            tasks.push_back([](weft::process_pool_executor& pp, int x) -> weft::task<int> {
                int a = co_await weft::run_in_executor(pp, square, x);
                co_return a + co_await weft::run_in_executor(pp, square_fn, 1);
            }(p, i));
        }
        long sum = 0;
        for (int v : co_await weft::gather(std::move(tasks)))
            sum += v;
        std::vector<int> inputs{1, 2, 3};  // (a braced list inside co_await trips GCC 12)
        std::vector<int> mapped = co_await p.map(square, inputs);
        EXPECT_EQ(mapped, (std::vector<int>{1, 4, 9}));
        co_return sum;
    }(pool));
    long want = 40;
    for (int i = 0; i < 40; ++i)
        want += i * i;
    EXPECT_EQ(total, want);
}

TEST_P(ProcessPool, APlainThreadMayWaitForAFutureTheLoopReads) {
    weft::process_pool_executor pool(1);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        auto f = p.submit(square, 12);
        EXPECT_THROW(f.get(), std::logic_error);  // on the loop's thread: would deadlock
        std::atomic<int> got{0};
        std::thread t([f, &got] { got = f.get(); });
        while (got.load() == 0)
            co_await weft::sleep(0.001);
        t.join();
        EXPECT_EQ(got.load(), 144);
    }(pool));
}

TEST(ProcessPoolErrors, BadInputGetsClearErrors) {
    EXPECT_THROW(weft::process_pool_executor(0), std::invalid_argument);
    EXPECT_THROW(weft::process_pool_executor(-1), std::invalid_argument);
    weft::process_pool_executor pool(1);
    EXPECT_THROW((void)pool.submit(square, 1), weft::no_running_loop_error);
    weft::run([](weft::process_pool_executor& p) -> weft::task<void> {
        try {
            (void)p.submit(weft::by_name<int>("no_such_function"), 1);
            ADD_FAILURE() << "no error";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("no_such_function"), std::string::npos);
        }
        try {
            (void)p.submit(weft::by_name<int>("square"), std::string("x"));
            ADD_FAILURE() << "no error";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("square"), std::string::npos) << e.what();
        }
        // Registered after the pool started its fork server: unknown to its workers.
        auto late = weft::register_function(
            "late_square", +[](int x) { return x * x; });
        try {
            (void)p.submit(late, 2);
            ADD_FAILURE() << "no error";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("late_square"), std::string::npos) << e.what();
        }
        EXPECT_THROW(weft::register_function(
                         "square", +[](int x) { return x; }),
                     std::invalid_argument);  // the name is taken
        EXPECT_THROW(weft::register_function("", square), std::invalid_argument);
        EXPECT_EQ(weft::register_function("square", square).index(), square_fn.index());
        p.shutdown();
        EXPECT_THROW((void)p.submit(square, 1), weft::executor_shutdown_error);
        co_return;
    }(pool));
}

TEST(ProcessPoolOrphans, WorkersGoWhenTheOwnerProcessIsKilled) {
    // This process adopts orphans (a subreaper), so that it can tell whether
    // the fork server outlived its owner, and reap it.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t owner = ::fork();
    ASSERT_GE(owner, 0);
    if (owner == 0) {
        ::close(fds[0]);
        weft::process_pool_executor pool(1);
        weft::run([](weft::process_pool_executor& p, int out) -> weft::task<void> {
            auto f = weft::run_in_executor(p, sleep_ms, 60'000);
            co_await weft::sleep(0.05);
            std::array<pid_t, 2> pids{p.fork_server_pid(), p.worker_pids().at(0)};
            if (::write(out, pids.data(), sizeof(pid_t) * 2) != sizeof(pid_t) * 2) std::_Exit(2);
            co_await f;
        }(pool, fds[1]));
        std::_Exit(0);
    }
    ::close(fds[1]);
    pid_t pids[2] = {0, 0};
    ASSERT_EQ(::read(fds[0], pids, sizeof pids), static_cast<ssize_t>(sizeof pids));
    ::close(fds[0]);
    ASSERT_TRUE(alive(pids[0]));
    ASSERT_TRUE(alive(pids[1]));
    ::kill(owner, SIGKILL);
    int status;
    ASSERT_EQ(::waitpid(owner, &status, 0), owner);
    // The fork server sees its owner gone, kills and reaps the worker, and
    // exits; as an orphan it comes to us, and we reap it.
    bool server_gone = false;
    for (int i = 0; i < 500 && !server_gone; ++i) {
        server_gone = ::waitpid(pids[0], &status, WNOHANG) == pids[0];
        if (!server_gone) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(server_gone);
    EXPECT_FALSE(alive(pids[1]));
    EXPECT_TRUE(children().empty());
}

// ---- giving up on a submit() future: the running call is killed, as its own
// per-call timeout would kill it, and a fresh worker serves the next call.

TEST_P(ProcessPool, WaitForGivesUpOnARunningSubmittedCallAtTheDeadline) {
    weft::process_pool_executor pool(1);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        int first = co_await p.submit(my_pid);
        auto f = p.submit(sleep_ms, 3'000);  // the timeout must not wait for it
        co_await weft::sleep(0.05);
        EXPECT_TRUE(f.running());
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_THROW(co_await weft::wait_for(f, 0.5), weft::timeout_error);
        auto waited = std::chrono::steady_clock::now() - t0;
        EXPECT_GE(waited, 450ms);
        EXPECT_LT(waited, 1500ms);
        EXPECT_TRUE(f.cancelled());
        co_await wait_until_gone(first);
        EXPECT_FALSE(alive(first));
        int next = co_await p.submit(my_pid);
        EXPECT_NE(next, first);
    }(pool));
}

TEST_P(ProcessPool, ATimeoutScopeGivesUpOnARunningSubmittedCall) {
    weft::process_pool_executor pool(1);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        int first = co_await p.submit(my_pid);
        auto t0 = std::chrono::steady_clock::now();
        weft::timeout_scope scope = weft::timeout(0.5);
        EXPECT_THROW(co_await scope.run([](weft::process_pool_executor& pp) -> weft::task<void> {
            co_await pp.submit(never_returns, 0);
        }(p)),
                     weft::timeout_error);
        auto waited = std::chrono::steady_clock::now() - t0;
        EXPECT_GE(waited, 450ms);
        EXPECT_LT(waited, 1500ms);
        co_await wait_until_gone(first);
        if (alive(first)) {  // still running the call: the pool would wait for it forever
            ADD_FAILURE() << "the call was not killed";
            ::kill(first, SIGKILL);
            co_return;
        }
        EXPECT_EQ(co_await p.submit(square, 7), 49);
    }(pool));
}

TEST_P(ProcessPool, CancellingATaskAwaitingASubmittedCallKillsTheCall) {
    weft::process_pool_executor pool(1);
    run([](weft::process_pool_executor& p) -> weft::task<void> {
        int first = co_await p.submit(my_pid);
        auto f = p.submit(never_returns, 0);
        auto waiter = weft::create_task(
            [](weft::executor_future<int> fut) -> weft::task<int> { co_return co_await fut; }(f));
        co_await weft::sleep(0.05);
        waiter.cancel();
        EXPECT_THROW(co_await waiter, weft::cancelled_error);
        EXPECT_TRUE(f.cancelled());
        co_await wait_until_gone(first);
        if (alive(first)) {
            ADD_FAILURE() << "the call was not killed";
            ::kill(first, SIGKILL);
            co_return;
        }
        EXPECT_EQ(co_await p.submit(square, 5), 25);
    }(pool));
}
