// detail::poller, the reactor seam: an fd's readiness arrives in weft's own
// `readiness` bits whatever the backend speaks, edge interest reports a
// change once, and the registered count follows add/remove/forget.
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/detail/poller.hpp>

namespace {

using namespace weft::detail;

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

TEST(Poller, ReportsReadableAndWritableInWeftBits) {
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

TEST(Poller, PeerClosedAndHangupAreReported) {
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
    ASSERT_EQ(p->wait(0), 1);
    EXPECT_TRUE(r.seen.at(0) & readiness::hangup);  // reported though not asked for
    p->remove(s.fd[0]);
}

TEST(Poller, EdgeInterestReportsAChangeOnce) {
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

TEST(Poller, BadFdAndClosedFdAreErrorsNamingTheFd) {
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

TEST(Poller, FdIsReadableWhileAnEventIsPending) {
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

}  // namespace
