// Other libraries' fds on weft's loops: event_loop::add_reader & co
// (asyncio's), weft::wait_readable / wait_writable, in both modes; and a
// single-thread loop driven by a host's own poll() loop (pollable_fd, step).
#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io_test.hpp"

namespace {

using weft_io_test::io_modes;

class FdWatch : public io_modes {};
WEFT_IO_MODES(FdWatch);

// Two ends of a pipe (or of a socketpair), non-blocking, closed at scope end.
struct fd_pair {
    int r = -1, w = -1;
    static fd_pair pipe() {
        fd_pair p;
        int fds[2];
        if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
        p.r = fds[0];
        p.w = fds[1];
        return p;
    }
    static fd_pair sockets() {
        fd_pair p;
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
            throw std::runtime_error("socketpair");
        p.r = fds[0];
        p.w = fds[1];
        return p;
    }
    fd_pair() = default;
    fd_pair(fd_pair&& o) noexcept : r(std::exchange(o.r, -1)), w(std::exchange(o.w, -1)) {}
    fd_pair& operator=(fd_pair&&) = delete;
    ~fd_pair() {
        if (r >= 0) ::close(r);
        if (w >= 0) ::close(w);
    }
};

std::string read_all(int fd) {
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    return out;
}

void write_str(int fd, const std::string& s) {
    ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

TEST_P(FdWatch, AddReaderSeesAPipeWrittenByAPlainThread) {
    run([]() -> weft::task<void> {
        fd_pair p = fd_pair::pipe();
        weft::event_loop& loop = weft::get_running_loop();
        weft::future<std::string> got;
        std::string acc;
        int calls = 0;
        loop.add_reader(p.r, [&, got]() mutable {
            ++calls;
            acc += read_all(p.r);
            if (acc.size() >= 6) got.try_set_result(acc);
        });
        std::thread writer([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            write_str(p.w, "abc");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            write_str(p.w, "def");
        });
        std::string s = co_await weft::wait_for(got, 5.0);
        writer.join();
        EXPECT_EQ(s, "abcdef");
        EXPECT_GE(calls, 2);
        EXPECT_TRUE(loop.remove_reader(p.r));
        EXPECT_FALSE(loop.remove_reader(p.r));  // asyncio: False when nothing was registered
        EXPECT_FALSE(loop.remove_writer(p.r));
    }());
}

TEST_P(FdWatch, LevelTriggeredUntilRemoved) {
    run([]() -> weft::task<void> {
        fd_pair p = fd_pair::sockets();
        weft::event_loop& loop = weft::get_running_loop();
        int calls = 0;
        write_str(p.r, "x");  // readable at p.w, and stays so: nobody reads
        loop.add_reader(p.w, [&] { ++calls; });
        while (calls < 3)
            co_await weft::sleep(0.001);
        EXPECT_TRUE(loop.remove_reader(p.w));
        int seen = calls;
        co_await weft::sleep(0.02);
        EXPECT_EQ(calls, seen);  // nothing after the removal
    }());
}

TEST_P(FdWatch, SecondAddReaderReplacesTheCallback) {
    run([]() -> weft::task<void> {
        fd_pair p = fd_pair::pipe();
        weft::event_loop& loop = weft::get_running_loop();
        int first = 0, second = 0;
        loop.add_reader(p.r, [&] { ++first; });
        loop.add_reader(p.r, [&] {
            ++second;
            read_all(p.r);
        });
        write_str(p.w, "go");
        while (second == 0)
            co_await weft::sleep(0.001);
        EXPECT_EQ(first, 0);
        EXPECT_TRUE(loop.remove_reader(p.r));
    }());
}

TEST_P(FdWatch, ReaderAndWriterOnOneFd) {
    run([]() -> weft::task<void> {
        fd_pair p = fd_pair::sockets();
        weft::event_loop& loop = weft::get_running_loop();
        int writable = 0, readable = 0;
        loop.add_writer(p.r, [&] { ++writable; });
        loop.add_reader(p.r, [&] {
            ++readable;
            read_all(p.r);
        });
        while (writable == 0)
            co_await weft::sleep(0.001);
        EXPECT_EQ(readable, 0);
        EXPECT_TRUE(loop.remove_writer(p.r));
        write_str(p.w, "hi");
        while (readable == 0)
            co_await weft::sleep(0.001);
        int w = writable;
        co_await weft::sleep(0.01);
        EXPECT_EQ(writable, w);
        EXPECT_TRUE(loop.remove_reader(p.r));
    }());
}

TEST_P(FdWatch, CallbackRunsOnTheRegisteringLoop) {
    run([]() -> weft::task<void> {
        fd_pair p = fd_pair::pipe();
        weft::event_loop* home = &weft::get_running_loop();
        std::vector<weft::event_loop*> where;
        home->add_reader(p.r, [&] {
            where.push_back(weft::event_loop::current());
            read_all(p.r);
        });
        for (int i = 0; i < 3; ++i) {
            write_str(p.w, "x");
            std::size_t before = where.size();
            while (where.size() == before)
                co_await weft::sleep(0.001);
        }
        EXPECT_TRUE(home->remove_reader(p.r));
        for (weft::event_loop* l : where)
            EXPECT_EQ(l, home);
    }());
}

TEST_P(FdWatch, BadFdsAreClearErrors) {
    run([]() -> weft::task<void> {
        weft::event_loop& loop = weft::get_running_loop();
        try {
            loop.add_reader(-1, [] {});
            ADD_FAILURE() << "no exception for fd -1";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("fd -1"), std::string::npos) << e.what();
        }
        int closed_fd;
        {
            fd_pair p = fd_pair::pipe();
            closed_fd = p.w;
        }
        try {
            loop.add_writer(closed_fd, [] {});
            ADD_FAILURE() << "no exception for a closed fd";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code().value(), EBADF);
            EXPECT_NE(std::string(e.what()).find("fd " + std::to_string(closed_fd)),
                      std::string::npos)
                << e.what();
        }
        // epoll cannot watch a regular file: asyncio's PermissionError.
        char path[] = "/tmp/weft_fd_watch_XXXXXX";
        int file = ::mkstemp(path);
        ::unlink(path);
        try {
            loop.add_reader(file, [] {});
            ADD_FAILURE() << "no exception for a regular file";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code().value(), EPERM);
        }
        ::close(file);
        EXPECT_FALSE(loop.remove_reader(-1));
        EXPECT_THROW(loop.add_reader(0, std::function<void()>()), std::invalid_argument);
        // Waiting: the same errors, from the awaited task.
        EXPECT_THROW(co_await weft::wait_readable(-5), std::invalid_argument);
        EXPECT_THROW(co_await weft::wait_writable(closed_fd), std::system_error);
    }());
}

TEST_P(FdWatch, ClosingARegisteredFdDoesNotCrash) {
    run([]() -> weft::task<void> {
        weft::event_loop& loop = weft::get_running_loop();
        fd_pair p = fd_pair::pipe();
        int calls = 0;
        int fd = p.r;
        loop.add_reader(fd, [&] { ++calls; });
        write_str(p.w, "lost");           // readable now...
        ::close(std::exchange(p.r, -1));  // ...but closed: epoll drops it by itself
        co_await weft::sleep(0.01);
        EXPECT_EQ(calls, 0);
        EXPECT_TRUE(loop.remove_reader(fd));  // still registered as far as the loop knows
        // The fd number, reused, can be watched again.
        fd_pair q = fd_pair::pipe();
        loop.add_reader(q.r, [&] {
            ++calls;
            read_all(q.r);
        });
        write_str(q.w, "seen");
        while (calls == 0)
            co_await weft::sleep(0.001);
        EXPECT_TRUE(loop.remove_reader(q.r));
    }());
}

TEST_P(FdWatch, ClosingWhileStillRegisteredThenReAdding) {
    run([]() -> weft::task<void> {
        weft::event_loop& loop = weft::get_running_loop();
        int calls = 0;
        fd_pair p = fd_pair::pipe();
        int fd = p.r;
        loop.add_reader(fd, [&] { ++calls; });
        ::close(std::exchange(p.r, -1));
        // A new pipe takes the same number while the old watch is there:
        // adding a writer to the read end's number re-registers it.
        fd_pair q = fd_pair::sockets();
        CO_ASSERT_TRUE(q.r == fd || q.w == fd);
        int same = q.r == fd ? q.r : q.w;
        int other = q.r == fd ? q.w : q.r;
        int writes = 0;
        loop.add_writer(same, [&] { ++writes; });
        while (writes == 0)
            co_await weft::sleep(0.001);
        EXPECT_TRUE(loop.remove_writer(same));
        write_str(other, "x");
        while (calls == 0)
            co_await weft::sleep(0.001);
        EXPECT_TRUE(loop.remove_reader(same));
    }());
}

TEST_P(FdWatch, WaitReadableAndWritable) {
    run([]() -> weft::task<void> {
        fd_pair p = fd_pair::sockets();
        co_await weft::wait_writable(p.w);  // empty buffer: at once
        std::thread writer([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            write_str(p.w, "late");
        });
        co_await weft::wait_readable(p.r);
        writer.join();
        EXPECT_EQ(read_all(p.r), "late");
        // The watch is gone: add_reader takes the fd without complaint.
        weft::event_loop& loop = weft::get_running_loop();
        EXPECT_FALSE(loop.remove_reader(p.r));
    }());
}

TEST_P(FdWatch, WaitReadableTimesOutAndCancels) {
    run([]() -> weft::task<void> {
        fd_pair p = fd_pair::pipe();
        EXPECT_THROW(co_await weft::wait_for(weft::wait_readable(p.r), 0.02), weft::timeout_error);
        auto waiter = weft::create_task(weft::wait_readable(p.r));
        co_await weft::sleep(0.01);
        // Busy: one waiter per fd and direction.
        EXPECT_THROW(weft::get_running_loop().add_reader(p.r, [] {}), std::logic_error)
            << "add_reader must not replace a waiter";
        waiter.cancel();
        EXPECT_THROW(co_await waiter, weft::cancelled_error);
        // Both waits left nothing behind: a new one works.
        write_str(p.w, "now");
        co_await weft::wait_for(weft::wait_readable(p.r), 5.0);
        EXPECT_EQ(read_all(p.r), "now");
    }());
}

// ---- a host's poll() loop drives a single-thread loop

TEST(HostLoop, PollableFdReflectsWork) {
    weft::event_loop loop;
    int fd = loop.pollable_fd();
    auto readable = [fd](int ms) {
        pollfd p{fd, POLLIN, 0};
        return ::poll(&p, 1, ms) == 1;
    };
    EXPECT_FALSE(readable(0));
    EXPECT_EQ(loop.next_timeout_ns(), -1);

    // call_soon from the host between steps.
    int ran = 0;
    loop.call_soon([&] { ++ran; });
    EXPECT_TRUE(readable(0));
    EXPECT_EQ(loop.next_timeout_ns(), 0);
    loop.step();
    EXPECT_EQ(ran, 1);
    EXPECT_FALSE(readable(0));

    // A callback that schedules another: still readable after the step.
    loop.call_soon([&] {
        ++ran;
        loop.call_soon([&] { ++ran; });
    });
    loop.step();
    EXPECT_EQ(ran, 2);
    EXPECT_TRUE(readable(0));
    loop.step();
    EXPECT_EQ(ran, 3);
    EXPECT_FALSE(readable(0));

    // A timer: the fd turns readable when it is due (a timerfd), not before.
    loop.call_later(0.03, [&] { ++ran; });
    loop.step();  // the host woke for the new timer; nothing is due yet
    EXPECT_FALSE(readable(0));
    std::int64_t t = loop.next_timeout_ns();
    EXPECT_GT(t, 0);
    EXPECT_LE(t, 30'000'000);
    EXPECT_TRUE(readable(2000));
    loop.step();
    EXPECT_EQ(ran, 4);
    EXPECT_FALSE(readable(0));

    // call_soon_threadsafe from another thread wakes the host's poll.
    std::thread other([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        loop.call_soon_threadsafe([&] { ++ran; });
    });
    EXPECT_TRUE(readable(2000));
    other.join();
    loop.step();
    EXPECT_EQ(ran, 5);
    EXPECT_FALSE(readable(0));
}

TEST(HostLoop, HostPollDrivesTasksAndIo) {
    weft::event_loop loop;
    fd_pair p = fd_pair::pipe();
    std::string got;
    auto main = loop.create_task([](int fd, std::string& out) -> weft::task<int> {
        co_await weft::wait_readable(fd);
        out = read_all(fd);
        co_await weft::sleep(0.01);
        co_return 42;
    }(p.r, got));
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        write_str(p.w, "ping");
    });
    int steps = 0;
    while (!main.done() && steps < 1000) {
        std::int64_t ns = loop.next_timeout_ns();
        int ms = ns < 0 ? 2000 : static_cast<int>((ns + 999'999) / 1'000'000);
        pollfd pf{loop.pollable_fd(), POLLIN, 0};
        ::poll(&pf, 1, ms);
        loop.step();
        ++steps;
    }
    writer.join();
    ASSERT_TRUE(main.done());
    EXPECT_EQ(main.result(), 42);
    EXPECT_EQ(got, "ping");
    EXPECT_LT(steps, 50);  // woken by events, not spinning
    EXPECT_THROW(loop.run_until_complete([&]() -> weft::task<void> {
        loop.step();  // a step inside a running loop
        co_return;
    }()),
                 std::logic_error);
}

TEST(HostLoop, GoModeHasNoPollableFd) {
    weft::run(
        []() -> weft::task<void> {
            EXPECT_THROW(weft::get_running_loop().pollable_fd(), std::logic_error);
            EXPECT_THROW(weft::get_running_loop().step(), std::logic_error);
            co_return;
        }(),
        {.threads = 2});
}

}  // namespace
