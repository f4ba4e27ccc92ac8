// weft::run and Ctrl-C, as asyncio.run: the first SIGINT cancels the main
// task, its cleanup runs, and the process ends like Python's
// KeyboardInterrupt (stderr message, death by SIGINT: exit status 130); a
// second SIGINT during a long cleanup ends it at once.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

struct child {
    pid_t pid = -1;
    int out = -1;
    int err = -1;
};

child spawn(std::vector<std::string> args) {
    int out[2], err[2];
    EXPECT_EQ(::pipe(out), 0);
    EXPECT_EQ(::pipe(err), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, err[0]);
    // SIGINT at its default action in the child whatever we inherited (a
    // shell starts background jobs with SIGINT ignored, and weft, like
    // asyncio, leaves an ignored SIGINT alone).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    child c;
    EXPECT_EQ(posix_spawn(&c.pid, argv[0], &fa, &attr, argv.data(), environ), 0);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    ::close(err[1]);
    c.out = out[0];
    c.err = err[0];
    return c;
}

// Reads `fd` until `text` has appeared or `seconds` pass; returns all read.
std::string read_until(int fd, const std::string& text, double seconds) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (got.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        char buf[256];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
}

std::string read_all(int fd) {
    std::string got;
    char buf[256];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
        got.append(buf, static_cast<std::size_t>(n));
    return got;
}

void check_interrupt(const char* threads, bool twice) {
    std::vector<std::string> args{WEFT_SIGINT_PROGRAM, "--threads", threads};
    if (twice) args.push_back("--stubborn");
    child c = spawn(args);
    ASSERT_NE(read_until(c.out, "ready", 10).find("ready"), std::string::npos);
    auto t0 = std::chrono::steady_clock::now();
    ::kill(c.pid, SIGINT);
    std::string out = read_until(c.out, "cleanup", 10);
    EXPECT_NE(out.find("cleanup"), std::string::npos) << "the main task's cleanup must run";
    if (twice) ::kill(c.pid, SIGINT);
    out += read_all(c.out);
    std::string err = read_all(c.err);
    int status = 0;
    ASSERT_EQ(::waitpid(c.pid, &status, 0), c.pid);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT)
        << "expected death by SIGINT (exit status 130), got status " << status;
    EXPECT_NE(err.find("KeyboardInterrupt"), std::string::npos) << err;
    EXPECT_EQ(out.find("not reached"), std::string::npos);
    EXPECT_LT(took, 5.0) << "the process must end promptly";
    ::close(c.out);
    ::close(c.err);
}

TEST(Sigint, FirstCancelsTheMainTaskAndExitsLikeKeyboardInterrupt) {
    check_interrupt("1", false);
}
TEST(Sigint, TheSameInGoMode) {
    check_interrupt("2", false);
}
TEST(Sigint, ASecondOneDuringCleanupEndsAtOnce) {
    check_interrupt("1", true);
}
TEST(Sigint, ASecondOneDuringCleanupEndsAtOnceInGoMode) {
    check_interrupt("2", true);
}

}  // namespace
