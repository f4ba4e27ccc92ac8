// detail::poller, the reactor seam: an fd's readiness arrives in weft's own
// `readiness` bits whatever the backend speaks, edge interest reports a
// change once, and the registered count follows add/remove/forget. Every
// test runs on each backend (epoll, and io_uring where the kernel lets it).
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/detail/poller.hpp>
#include <weft/io_backend.hpp>

namespace {

using namespace weft::detail;
using weft::io_backend;

class Poller : public testing::TestWithParam<io_backend> {
protected:
    void SetUp() override {
        if (GetParam() == io_backend::uring) {
            weft::io_uring_support support = weft::probe_io_uring();
            if (!support.available) GTEST_SKIP() << support.why;
        }
    }
    std::unique_ptr<poller> make_poller() const { return weft::detail::make_poller(GetParam()); }
};

struct recorder : poll_target {
    std::vector<std::uint32_t> seen;
    recorder() {
        on_events = [](poll_target* self, std::uint32_t events) noexcept {
            static_cast<recorder*>(self)->seen.push_back(events);
        };
    }
};

struct socket_pair {
    int fd[2];
    socket_pair() {
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0)
            throw std::system_error(errno, std::generic_category(), "socketpair");
    }
    ~socket_pair() {
        ::close(fd[0]);
        ::close(fd[1]);
    }
};

TEST_P(Poller, ReportsReadableAndWritableInWeftBits) {
    auto p = make_poller();
    socket_pair s;
    recorder r;
    p->add(s.fd[0], readiness::readable, &r);
    EXPECT_EQ(p->registered(), 1);
    EXPECT_EQ(p->wait(0), 0);  // nothing to read yet
    ASSERT_EQ(::write(s.fd[1], "x", 1), 1);
    ASSERT_EQ(p->wait(0), 1);
    ASSERT_EQ(r.seen.size(), 1u);
    EXPECT_EQ(r.seen[0], readiness::readable);

    r.seen.clear();
    p->modify(s.fd[0], readiness::readable | readiness::writable, &r);
    ASSERT_EQ(p->wait(0), 1);
    EXPECT_EQ(r.seen.at(0), readiness::readable | readiness::writable);
    p->remove(s.fd[0]);
    EXPECT_EQ(p->registered(), 0);
}

TEST_P(Poller, PeerClosedAndHangupAreReported) {
    auto p = make_poller();
    socket_pair s;
    recorder r;
    p->add(s.fd[0], readiness::readable | readiness::peer_closed, &r);
    ASSERT_EQ(::shutdown(s.fd[1], SHUT_WR), 0);
    ASSERT_EQ(p->wait(0), 1);
    EXPECT_EQ(r.seen.at(0) & (readiness::readable | readiness::peer_closed),
              readiness::readable | readiness::peer_closed);
    EXPECT_FALSE(r.seen.at(0) & readiness::hangup);  // our side still may write

    r.seen.clear();
    ::close(s.fd[1]);
    s.fd[1] = ::dup(s.fd[0]);  // keeps the destructor's close harmless
    ASSERT_EQ(::shutdown(s.fd[0], SHUT_RDWR), 0);
    // Level interest reports the fd on every wait while it is ready; the
    // bits are its state when the backend last looked, which io_uring may
    // have done one wait earlier (it re-arms right after an event).
    ASSERT_EQ(p->wait(0), 1);
    ASSERT_EQ(p->wait(0), 1);
    EXPECT_TRUE(r.seen.at(1) & readiness::hangup);  // reported though not asked for
    p->remove(s.fd[0]);
}

TEST_P(Poller, EdgeInterestReportsAChangeOnce) {
    auto p = make_poller();
    socket_pair s;
    recorder level, edge;
    socket_pair t;
    p->add(s.fd[0], readiness::readable, &level);
    p->add(t.fd[0], readiness::readable | readiness::edge, &edge);
    ASSERT_EQ(::write(s.fd[1], "x", 1), 1);
    ASSERT_EQ(::write(t.fd[1], "x", 1), 1);
    EXPECT_EQ(p->wait(0), 2);
    EXPECT_EQ(p->wait(0), 1);  // the level-triggered fd again, the edge not
    EXPECT_EQ(level.seen.size(), 2u);
    EXPECT_EQ(edge.seen.size(), 1u);
    p->remove(s.fd[0]);
    p->remove(t.fd[0]);
}

TEST_P(Poller, BadFdAndClosedFdAreErrorsNamingTheFd) {
    auto p = make_poller();
    recorder r;
    try {
        p->add(-1, readiness::readable, &r);
        FAIL() << "add(-1) did not throw";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EBADF);
        EXPECT_NE(std::string(e.what()).find("fd -1"), std::string::npos) << e.what();
    }
    EXPECT_EQ(p->registered(), 0);

    // A closed fd is dropped by the kernel: modify says ENOENT, forget
    // still brings the count down.
    socket_pair s;
    int fd = ::dup(s.fd[0]);
    p->add(fd, readiness::readable, &r);
    ::close(fd);
    try {
        p->modify(fd, readiness::writable, &r);
        FAIL() << "modify of a closed fd did not throw";
    } catch (const std::system_error& e) {
        EXPECT_TRUE(e.code().value() == ENOENT || e.code().value() == EBADF) << e.what();
    }
    p->forget(fd);
    EXPECT_EQ(p->registered(), 0);
}

TEST_P(Poller, FdIsReadableWhileAnEventIsPending) {
    auto outer = make_poller();
    auto inner = make_poller();
    socket_pair s;
    recorder in, out;
    inner->add(s.fd[0], readiness::readable, &in);
    outer->add(inner->fd(), readiness::readable, &out);
    EXPECT_EQ(outer->wait(0), 0);
    ASSERT_EQ(::write(s.fd[1], "x", 1), 1);
    EXPECT_EQ(outer->wait(0), 1);
    EXPECT_EQ(inner->wait(0), 1);
    outer->remove(inner->fd());
    inner->remove(s.fd[0]);
}

TEST_P(Poller, EventsOfARemovedRegistrationAreDropped) {
    // The fd is ready when it is removed and added again with another
    // target: whatever the old registration had pending must not reach its
    // target (which may be gone by then), only the new one hears.
    auto p = make_poller();
    socket_pair s;
    recorder old_target, new_target;
    p->add(s.fd[0], readiness::readable | readiness::edge, &old_target);
    ASSERT_EQ(::write(s.fd[1], "x", 1), 1);
    p->remove(s.fd[0]);
    p->add(s.fd[0], readiness::readable | readiness::edge, &new_target);
    EXPECT_EQ(p->wait(0), 1);
    EXPECT_TRUE(old_target.seen.empty());
    ASSERT_EQ(new_target.seen.size(), 1u);
    EXPECT_EQ(new_target.seen[0] & readiness::readable, readiness::readable);
    p->remove(s.fd[0]);
}

TEST_P(Poller, RemoveThenCloseEndsTheConnection) {
    // A poll holds the file (io_uring takes a reference to it): once remove
    // has returned, close must really close, and the peer see end of file.
    auto p = make_poller();
    int fd[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0);
    recorder r;
    p->add(fd[0], readiness::readable | readiness::edge, &r);
    p->wait(0);
    p->remove(fd[0]);
    ::close(fd[0]);
    char c;
    EXPECT_EQ(::read(fd[1], &c, 1), 0);  // blocking: a hang here is the bug
    ::close(fd[1]);
}

TEST_P(Poller, RegularFilesAreRefusedAsEpollRefusesThem) {
    auto p = make_poller();
    recorder r;
    int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    try {
        p->add(fd, readiness::readable, &r);
        FAIL() << "add of a regular file did not throw";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EPERM) << e.what();
    }
    EXPECT_EQ(p->registered(), 0);
    ::close(fd);
}

TEST_P(Poller, TimeoutEndsAWaitWithNothingReady) {
    auto p = make_poller();
    socket_pair s;
    recorder r;
    p->add(s.fd[0], readiness::readable, &r);
    EXPECT_EQ(p->wait(2'000'000), 0);  // 2 ms, nothing to read
    EXPECT_TRUE(r.seen.empty());
    p->remove(s.fd[0]);
}

// An fd added by another thread, which then computes without a system
// call: under io_uring the poll belongs to that thread, and its wake-up is
// that thread's task work, taken without an interrupt (cooperative task
// work) at its next entry to the kernel or scheduler tick. The owner's wait
// must still see the readiness while the other thread computes on.
TEST_P(Poller, AnFdAddedByAThreadThatThenComputesStillReportsReadiness) {
    auto p = make_poller();
    socket_pair s;
    recorder r;
    std::atomic<bool> added{false};
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> sink{0};  // what it computed, so the loop stays
    std::thread adder([&] {
        p->add(s.fd[0], readiness::readable, &r);
        added.store(true, std::memory_order_release);  // pairs with the acquire below
        std::uint64_t x = 1;
        while (!stop.load(std::memory_order_relaxed))  // a flag; join() orders the rest
            x = x * 6364136223846793005u + 1;          // computing, no system call
        sink.store(x, std::memory_order_relaxed);
    });
    while (!added.load(std::memory_order_acquire))
        std::this_thread::yield();
    ASSERT_EQ(::write(s.fd[1], "x", 1), 1);
    int n = 0;
    // 3 s: far beyond a scheduler tick, short enough to fail rather than hang.
    for (int i = 0; i < 30 && n == 0; ++i)
        n = p->wait(100'000'000);
    bool seen_while_computing = n > 0;
    stop.store(true, std::memory_order_relaxed);
    adder.join();
    EXPECT_TRUE(seen_while_computing);
    ASSERT_EQ(r.seen.size(), 1u);
    EXPECT_TRUE(r.seen[0] & readiness::readable);
    p->remove(s.fd[0]);
}

// Stress, for ThreadSanitizer: one thread waits as a loop's owner does while
// others add, trigger, remove and close fds (as the I/O component closes an
// fd on whichever thread its owner runs). Nothing may crash, and the count
// comes back to the owner's one fd.
TEST_P(Poller, AddAndRemoveFromOtherThreadsWhileTheOwnerWaits) {
    auto p = make_poller();
    socket_pair own;
    recorder own_target;
    p->add(own.fd[0], readiness::readable, &own_target);
    std::atomic<bool> stop{false};
    std::thread owner([&] {
        // relaxed: a flag; join() orders everything after.
        while (!stop.load(std::memory_order_relaxed))
            p->wait(1'000'000);
    });
    struct counting : poll_target {
        std::atomic<int> calls{0};
        counting() {
            on_events = [](poll_target* self, std::uint32_t) noexcept {
                // relaxed: counted, read after join.
                static_cast<counting*>(self)->calls.fetch_add(1, std::memory_order_relaxed);
            };
        }
    };
    constexpr int threads = 3;
    constexpr int rounds = 300;
    // Targets outlive every wait: an event fetched before a remove may still
    // be dispatched (epoll's contract as well).
    std::vector<std::unique_ptr<counting>> targets(threads * rounds);
    for (auto& t : targets)
        t = std::make_unique<counting>();
    std::atomic<int> not_closed{0};
    std::vector<std::thread> others;
    for (int t = 0; t < threads; ++t) {
        others.emplace_back([&, t] {
            for (int i = 0; i < rounds; ++i) {
                int fd[2];
                if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0)
                    return;
                counting* target = targets[t * rounds + i].get();
                std::uint32_t interest = readiness::readable;
                if (i % 2) interest |= readiness::edge;
                p->add(fd[0], interest, target);
                (void)!::write(fd[1], "x", 1);
                if (i % 3 == 0) p->modify(fd[0], interest | readiness::writable, target);
                p->remove(fd[0]);
                ::close(fd[0]);
                // The close must end the connection, even when the removal
                // met the poll in the middle of its wake-up (io_uring then
                // answers -EALREADY and the poller has to ask again).
                pollfd peer{fd[1], POLLIN, 0};  // nothing comes this way but the end
                if (::poll(&peer, 1, 5000) != 1) ++not_closed;
                ::close(fd[1]);
            }
        });
    }
    for (auto& t : others)
        t.join();
    stop.store(true, std::memory_order_relaxed);
    owner.join();
    EXPECT_EQ(not_closed.load(), 0);
    EXPECT_EQ(p->registered(), 1);
    p->remove(own.fd[0]);
    EXPECT_EQ(p->registered(), 0);
}

std::string backend_name(const testing::TestParamInfo<io_backend>& info) {
    return weft::to_string(info.param);
}

INSTANTIATE_TEST_SUITE_P(Backends, Poller, testing::Values(io_backend::epoll, io_backend::uring),
                         backend_name);

}  // namespace
