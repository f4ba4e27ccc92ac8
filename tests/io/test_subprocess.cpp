// Subprocesses (asyncio.create_subprocess_exec) in both modes: output line
// by line, communicate, exit codes and signals, stdio redirections, errors,
// and no zombie left behind whether or not anyone waits.
#include <fstream>
#include <string>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_test.hpp"

namespace {

using weft_io_test::io_modes;

class Subprocess : public io_modes {};
WEFT_IO_MODES(Subprocess);

using weft::stdio;

// GCC 12 cannot compile a braced list inside a co_await expression ("array
// used as initializer"): argv is built by a function call instead.
template <class... A>
std::vector<std::string> cmd(A... args) {
    return {std::string(args)...};
}

// 'Z' for a zombie, another state letter while it runs, 0 once it is gone.
char process_state(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string all;
    if (!std::getline(stat, all)) return 0;
    auto paren = all.rfind(')');
    return paren != std::string::npos && paren + 2 < all.size() ? all[paren + 2] : '?';
}

TEST_P(Subprocess, EchoLineByLine) {
    run([]() -> weft::task<void> {
        weft::process p = co_await weft::create_subprocess_exec(
            cmd("sh", "-c", "echo one; sleep 0.05; echo two"), {.std_out = stdio::pipe});
        EXPECT_GT(p.pid(), 0);
        EXPECT_FALSE(p.std_in.has_value());
        CO_ASSERT_TRUE(p.std_out.has_value());
        EXPECT_EQ(co_await p.std_out->readline(), "one\n");
        EXPECT_EQ(co_await p.std_out->readline(), "two\n");
        EXPECT_EQ(co_await p.std_out->readline(), "");
        EXPECT_EQ(co_await p.wait(), 0);
        EXPECT_EQ(p.returncode(), 0);
    }());
}

TEST_P(Subprocess, CatWithCommunicate) {
    run([]() -> weft::task<void> {
        weft::process p = co_await weft::create_subprocess_exec(
            cmd("cat"), {.std_in = stdio::pipe, .std_out = stdio::pipe, .std_err = stdio::pipe});
        std::string big(1 << 20, 'c');  // more than a pipe holds: needs the concurrency
        auto [out, err] = co_await p.communicate(big);
        EXPECT_EQ(out.size(), big.size());
        EXPECT_EQ(out, big);
        EXPECT_EQ(err, "");
        EXPECT_EQ(p.returncode(), 0);
    }());
}

TEST_P(Subprocess, ExitCodesAndStderr) {
    run([]() -> weft::task<void> {
        weft::process p = co_await weft::create_subprocess_shell(
            "echo oops >&2; exit 3", {.std_out = stdio::pipe, .std_err = stdio::pipe});
        auto [out, err] = co_await p.communicate();
        EXPECT_EQ(out, "");
        EXPECT_EQ(err, "oops\n");
        EXPECT_EQ(co_await p.wait(), 3);

        weft::process merged = co_await weft::create_subprocess_shell(
            "echo out; echo err >&2", {.std_out = stdio::pipe, .std_err = stdio::to_stdout});
        EXPECT_FALSE(merged.std_err.has_value());
        auto [both, none] = co_await merged.communicate();
        EXPECT_EQ(both, "out\nerr\n");

        weft::process quiet = co_await weft::create_subprocess_shell(
            "cat; echo done", {.std_in = stdio::devnull, .std_out = stdio::pipe});
        EXPECT_EQ(co_await quiet.std_out->read(), "done\n");
        EXPECT_EQ(co_await quiet.wait(), 0);
    }());
}

TEST_P(Subprocess, KillAndTerminate) {
    run([]() -> weft::task<void> {
        weft::process p = co_await weft::create_subprocess_exec(cmd("sleep", "10"));
        EXPECT_THROW(co_await weft::wait_for(p.wait(), 0.05), weft::timeout_error);
        EXPECT_FALSE(p.returncode().has_value());
        p.kill();
        EXPECT_EQ(co_await p.wait(), -SIGKILL);
        p.kill();  // reaped: nothing to signal, no error

        weft::process t = co_await weft::create_subprocess_exec(cmd("sleep", "10"));
        t.terminate();
        EXPECT_EQ(co_await t.wait(), -SIGTERM);

        weft::process s = co_await weft::create_subprocess_exec(cmd("sleep", "10"));
        s.send_signal(SIGUSR1);
        EXPECT_EQ(co_await s.wait(), -SIGUSR1);
    }());
}

TEST_P(Subprocess, SeveralWaitersAllSeeTheExit) {
    run([]() -> weft::task<void> {
        weft::process p =
            co_await weft::create_subprocess_exec(cmd("sh", "-c", "sleep 0.05; exit 7"));
        auto a = weft::create_task(p.wait());
        auto b = weft::create_task(p.wait());
        auto [x, y] = co_await weft::gather(a, b);
        EXPECT_EQ(x, 7);
        EXPECT_EQ(y, 7);
    }());
}

TEST_P(Subprocess, EnvironmentAndWorkingDirectory) {
    run([]() -> weft::task<void> {
        std::vector<std::string> env = cmd("WEFT_TEST_VAR=42", "PATH=/usr/bin:/bin");
        weft::process p = co_await weft::create_subprocess_exec(
            cmd("sh", "-c", "echo $WEFT_TEST_VAR; pwd"),
            {.std_out = stdio::pipe, .cwd = "/tmp", .env = env});
        EXPECT_EQ(co_await p.std_out->read(), "42\n/tmp\n");
        EXPECT_EQ(co_await p.wait(), 0);
    }());
}

TEST_P(Subprocess, ErrorsAreClear) {
    run([]() -> weft::task<void> {
        try {
            co_await weft::create_subprocess_exec(cmd("weft-no-such-program"));
            ADD_FAILURE() << "started a program that does not exist";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
            EXPECT_NE(std::string(e.what()).find("weft-no-such-program"), std::string::npos);
        }
        EXPECT_THROW(co_await weft::create_subprocess_exec(std::vector<std::string>()),
                     std::invalid_argument);
        EXPECT_THROW(
            co_await weft::create_subprocess_exec(cmd("true"), {.std_out = stdio::to_stdout}),
            std::invalid_argument);
        weft::process p = co_await weft::create_subprocess_exec(cmd("true"));
        EXPECT_THROW(co_await p.communicate("input"), std::logic_error);
        co_await p.wait();
    }());
}

TEST_P(Subprocess, WritingToAnExitedChildRaisesBrokenPipe) {
    run([]() -> weft::task<void> {
        weft::process p =
            co_await weft::create_subprocess_exec(cmd("true"), {.std_in = stdio::pipe});
        co_await p.wait();
        try {
            p.std_in->write("nobody reads this");
            co_await p.std_in->drain();
            ADD_FAILURE() << "no error";
        } catch (const weft::connection_error& e) {
            EXPECT_EQ(e.code(), std::errc::broken_pipe);
        }
        // communicate ignores it, as asyncio does.
        weft::process q =
            co_await weft::create_subprocess_exec(cmd("true"), {.std_in = stdio::pipe});
        co_await q.wait();
        co_await q.communicate(std::string(100000, 'x'));
    }());
}

TEST_P(Subprocess, ReapedWithoutAnyoneWaiting) {
    run([]() -> weft::task<void> {
        int pid = 0;
        {
            weft::process p = co_await weft::create_subprocess_exec(cmd("true"));
            pid = p.pid();
        }  // dropped without wait()
        for (int i = 0; i < 200 && process_state(pid) != 0; ++i)
            co_await weft::sleep(0.01);
        EXPECT_EQ(process_state(pid), 0) << "pid " << pid << " is left as a zombie";
    }());
}

TEST_P(Subprocess, StillRunningAtShutdownIsReapedLater) {
    int pid = run([]() -> weft::task<int> {
        weft::process p = co_await weft::create_subprocess_exec(cmd("sleep", "0.2"));
        co_return p.pid();
    }());
    EXPECT_NE(process_state(pid), 0) << "still running";
    for (int i = 0; i < 300 && process_state(pid) != 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(process_state(pid), 0) << "pid " << pid << " is left as a zombie";
}

}  // namespace
