// Choosing the I/O backend: run_options::io and WEFT_IO name it, a bad name
// is a configuration error that says which setting and value, "auto" takes
// io_uring when the kernel allows it and says so, and falls back to epoll
// when io_uring_setup is refused (here by a seccomp filter, as a container
// runtime's profile refuses it).
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/weft.hpp>

namespace {

using weft::io_backend;

// Sets an environment variable for one test, and puts back what was there.
class scoped_env {
public:
    scoped_env(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) {
            had_ = true;
            old_ = old;
        }
        if (value != nullptr) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~scoped_env() {
        if (had_) {
            ::setenv(name_, old_.c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }

private:
    const char* name_;
    bool had_ = false;
    std::string old_;
};

bool uring_available() {
    return weft::probe_io_uring().available;
}

// A program that needs both halves of the loop's wait: a timer (the wait's
// timeout) and a wake-up from another thread (the loop's eventfd).
weft::task<int> timer_and_wakeup() {
    co_await weft::sleep(0.001);
    weft::event_loop& loop = weft::get_running_loop();
    weft::future<int> f;
    std::thread other(
        [&loop, f]() mutable { loop.call_soon_threadsafe([f]() mutable { f.set_result(7); }); });
    int v = co_await f;
    other.join();
    co_return v;
}

TEST(IoBackend, NamesParseAndPrint) {
    EXPECT_EQ(weft::parse_io_backend("epoll", "--io"), io_backend::epoll);
    EXPECT_EQ(weft::parse_io_backend("uring", "--io"), io_backend::uring);
    EXPECT_EQ(weft::parse_io_backend("auto", "--io"), io_backend::probe);
    EXPECT_STREQ(weft::to_string(io_backend::probe), "auto");
    EXPECT_STREQ(weft::to_string(io_backend::uring), "uring");
    try {
        (void)weft::parse_io_backend("kqueue", "--io");
        FAIL() << "kqueue was accepted";
    } catch (const weft::configuration_error& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("--io"), std::string::npos) << what;
        EXPECT_NE(what.find("'kqueue'"), std::string::npos) << what;
    }
}

TEST(IoBackend, WeftIoDecidesWhenNothingWasAsked) {
    {
        scoped_env env("WEFT_IO", nullptr);
        EXPECT_EQ(weft::resolve_io_backend(io_backend::automatic), io_backend::epoll);
    }
    {
        scoped_env env("WEFT_IO", "");  // set but empty: not set
        EXPECT_EQ(weft::resolve_io_backend(io_backend::automatic), io_backend::epoll);
    }
    {
        scoped_env env("WEFT_IO", "epoll");
        EXPECT_EQ(weft::resolve_io_backend(io_backend::automatic), io_backend::epoll);
    }
    {
        // run_options::io, when given, wins over the environment.
        scoped_env env("WEFT_IO", "uring");
        EXPECT_EQ(weft::resolve_io_backend(io_backend::epoll), io_backend::epoll);
    }
}

TEST(IoBackend, BadWeftIoIsAConfigurationErrorBeforeAnythingRuns) {
    scoped_env env("WEFT_IO", "iouring");
    try {
        weft::runner r;
        FAIL() << "WEFT_IO=iouring was accepted";
    } catch (const weft::configuration_error& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("WEFT_IO"), std::string::npos) << what;
        EXPECT_NE(what.find("'iouring'"), std::string::npos) << what;
    }
}

TEST(IoBackend, UringAskedForRunsOrSaysWhyNot) {
    if (!uring_available()) {
        try {
            (void)weft::resolve_io_backend(io_backend::uring);
            FAIL() << "uring was granted without io_uring";
        } catch (const weft::configuration_error& e) {
            EXPECT_NE(std::string(e.what()).find("io_uring"), std::string::npos) << e.what();
        }
        GTEST_SKIP() << weft::probe_io_uring().why;
    }
    EXPECT_EQ(weft::resolve_io_backend(io_backend::uring), io_backend::uring);
    for (int threads : {1, 2}) {
        EXPECT_EQ(weft::run(timer_and_wakeup(), {.threads = threads, .io = io_backend::uring}), 7);
    }
}

TEST(IoBackend, AutoSaysWhichBackendRunsAndWhy) {
    std::string said;
    weft::log_sink old = weft::set_log_sink([&said](weft::log_level, std::string_view m) {
        if (m.find("weft: I/O on") != std::string_view::npos) said = std::string(m);
    });
    io_backend chosen = weft::resolve_io_backend(io_backend::probe);
    weft::set_log_sink(std::move(old));
    EXPECT_EQ(chosen, uring_available() ? io_backend::uring : io_backend::epoll);
    // Said once per process and answer: an earlier test may have said it.
    if (!said.empty()) {
        EXPECT_NE(said.find(chosen == io_backend::uring ? "io_uring" : "epoll"), std::string::npos)
            << said;
    }
    EXPECT_EQ(weft::run(timer_and_wakeup(), {.io = io_backend::probe}), 7);
}

// Denies io_uring_setup with EPERM to this process from now on, as Docker's
// default seccomp profile does. False where seccomp filters cannot be set.
bool deny_io_uring_setup() {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
    return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

TEST(IoBackend, AutoFallsBackToEpollWhenIoUringSetupIsDenied) {
    // In a child: the filter cannot be taken off again. Exit status 0: all
    // held; 77: no seccomp here; anything else names the check that failed.
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (!deny_io_uring_setup()) ::_exit(77);
        weft::io_uring_support support = weft::probe_io_uring();
        if (support.available) ::_exit(2);
        if (support.why.find("io_uring_setup failed") == std::string::npos &&
            support.why.find("without liburing") == std::string::npos)
            ::_exit(3);
        std::string said;
        weft::set_log_sink([&said](weft::log_level, std::string_view m) {
            if (m.find("weft: I/O on") != std::string_view::npos) said = std::string(m);
        });
        if (weft::resolve_io_backend(io_backend::probe) != io_backend::epoll) ::_exit(4);
        if (said.find("I/O on epoll") == std::string::npos ||
            said.find(support.why) == std::string::npos)
            ::_exit(5);
        try {
            (void)weft::resolve_io_backend(io_backend::uring);
            ::_exit(6);
        } catch (const weft::configuration_error& e) {
            if (std::string(e.what()).find(support.why) == std::string::npos) ::_exit(7);
        }
        // And the loop runs, on epoll.
        if (weft::run(timer_and_wakeup(), {.io = io_backend::probe}) != 7) ::_exit(8);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "the child died, status " << status;
    if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "seccomp filters cannot be set here";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "check " << WEXITSTATUS(status) << " failed in the child";
}

}  // namespace
