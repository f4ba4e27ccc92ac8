// What weft leaves alone in the process that embeds it: the dispositions of
// SIGINT, SIGTERM, SIGPIPE, SIGCHLD and SIGQUIT are the same before, during
// and after a program that used sockets, pipes, a subprocess whose stdin
// closed early, a thread pool and a process pool (a write to a dead reader
// is an EPIPE error, not a SIGPIPE for the process); and every message weft
// writes goes through the log sink.
//
// In this binary (not weft_io_tests) because the process pool's workers are
// forks of it and the pools link here.
#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include <weft/weft.hpp>

namespace {

int triple(int x) {
    return 3 * x;
}

struct disposition {
    int sig;
    void (*handler)(int);
    int flags;
    bool operator==(const disposition&) const = default;
};

std::vector<disposition> dispositions() {
    std::vector<disposition> out;
    for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGQUIT}) {
        struct sigaction sa {};
        ::sigaction(sig, nullptr, &sa);
        // SA_RESTORER is libc's business: glibc sets it on every sigaction
        // call, so a handler installed and restored (weft::run's SIGINT on
        // the main thread) comes back SIG_DFL with it set. Not a change.
        out.push_back({sig, sa.sa_handler, sa.sa_flags & ~0x04000000});
    }
    return out;
}

std::vector<std::string> cmd(const char* a, const char* b, const char* c) {
    return {a, b, c};
}

weft::task<void> use_everything(std::vector<disposition> expected,
                                weft::process_pool_executor& procs) {
    // Sockets: a send to a closed peer.
    {
        auto [a, b] = weft::socketpair();
        b.close();
        bool broke = false;
        try {
            for (int i = 0; i < 100; ++i)
                co_await weft::sock_sendall(a, std::string(4096, 's'));
        } catch (const weft::connection_error&) {
            broke = true;
        }
        EXPECT_TRUE(broke);
    }
    EXPECT_EQ(dispositions(), expected) << "after the sockets";
    // A subprocess that closes its stdin at once: writing to it is
    // asyncio's BrokenPipeError, and the process lives on.
    {
        weft::process p = co_await weft::create_subprocess_exec(
            cmd("sh", "-c", "exec 0<&-; exit 0"), {.std_in = weft::stdio::pipe});
        EXPECT_EQ(co_await p.wait(), 0);
        bool broke = false;
        try {
            for (int i = 0; i < 100; ++i) {
                p.std_in->write(std::string(65536, 'p'));
                co_await p.std_in->drain();
            }
        } catch (const weft::connection_error& e) {
            broke = e.code().value() == EPIPE;
        }
        EXPECT_TRUE(broke) << "a write to a dead reader must raise EPIPE";
        p.std_in->close();
    }
    EXPECT_EQ(dispositions(), expected) << "after the subprocess";
    // Both pools.
    EXPECT_EQ(co_await weft::to_thread(triple, 4), 12);
    {
        weft::thread_pool_executor threads(2);
        EXPECT_EQ(co_await weft::run_in_executor(threads, triple, 5), 15);
    }
    EXPECT_EQ(co_await weft::run_in_executor(procs, triple, 6), 18);
    EXPECT_EQ(dispositions(), expected) << "after the pools";
}

TEST(ProcessWide, SignalDispositionsAreLeftAlone) {
    const std::vector<disposition> before = dispositions();
    for (int threads : {1, 2}) {
        {
            weft::process_pool_executor procs(1);
            // On a thread other than main: weft::run's Ctrl-C handling (the
            // one documented change, main thread only) stays out of it.
            std::thread t([&] { weft::run(use_everything(before, procs), {.threads = threads}); });
            t.join();
            EXPECT_EQ(dispositions(), before) << "with the process pool still up";
        }
        EXPECT_EQ(dispositions(), before) << threads << " thread(s), after";
    }
}

TEST(ProcessWide, PipeWriteToADeadReaderOnTheMainThread) {
    // weft::run on the main thread, with SIGPIPE at its default: the write
    // must fail with EPIPE, and the pending signal must not outlive it.
    const std::vector<disposition> before = dispositions();
    weft::run([]() -> weft::task<void> {
        weft::process p = co_await weft::create_subprocess_exec(
            cmd("sh", "-c", "exec 0<&-; exit 0"), {.std_in = weft::stdio::pipe});
        co_await p.wait();
        EXPECT_THROW(
            {
                p.std_in->write("x");
                co_await p.std_in->drain();
            },
            weft::connection_error);
    }());
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    EXPECT_FALSE(sigismember(&pending, SIGPIPE));
    EXPECT_EQ(dispositions(), before);
}

// ---- the log sink

TEST(ProcessWide, LogSinkTakesNeverRetrievedAndNothingReachesStderr) {
    std::mutex m;
    std::vector<std::pair<weft::log_level, std::string>> got;
    weft::log_sink previous = weft::set_log_sink([&](weft::log_level l, std::string_view s) {
        std::lock_guard lock(m);
        got.emplace_back(l, std::string(s));
    });
    EXPECT_FALSE(previous);  // the default
    ::testing::internal::CaptureStderr();
    for (int threads : {1, 2}) {
        weft::run(
            []() -> weft::task<void> {
                auto t = weft::create_task([]() -> weft::task<void> {
                    throw std::runtime_error("nobody looks");
                    co_return;
                }());
                co_await weft::sleep(0.01);
                // `t` goes without anyone retrieving its exception.
            }(),
            {.threads = threads});
    }
    std::string err = ::testing::internal::GetCapturedStderr();
    weft::set_log_sink({});
    EXPECT_EQ(err, "");
    std::lock_guard lock(m);
    int found = 0;
    for (auto& [level, text] : got) {
        if (text.find("Task exception was never retrieved") != std::string::npos) {
            ++found;
            EXPECT_EQ(level, weft::log_level::error);
            EXPECT_NE(text.find("nobody looks"), std::string::npos) << text;
            EXPECT_NE(text.back(), '\n');
        }
    }
    EXPECT_EQ(found, 2) << "one per mode";
}

TEST(ProcessWide, LogSinkCanBeSwappedWhileWorkersLog) {
    std::atomic<int> a{0}, b{0};
    weft::set_log_sink([&](weft::log_level, std::string_view) { a.fetch_add(1); });
    weft::run(
        [&]() -> weft::task<void> {
            auto batch = []() -> weft::task<void> {
                std::vector<weft::task_handle<void>> tasks;
                for (int i = 0; i < 100; ++i) {
                    tasks.push_back(weft::create_task([]() -> weft::task<void> {
                        throw std::runtime_error("lost");
                        co_return;
                    }()));
                }
                co_await weft::sleep(0.01);
            };
            co_await batch();  // reported as the handles go, on whichever worker
            weft::set_log_sink([&](weft::log_level, std::string_view) { b.fetch_add(1); });
            co_await batch();
            co_await weft::sleep(0.01);
        }(),
        {.threads = 4});
    weft::set_log_sink({});
    EXPECT_EQ(a.load() + b.load(), 200);
    EXPECT_GE(b.load(), 100);
}

}  // namespace
