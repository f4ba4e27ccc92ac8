// The low-level socket awaitables (asyncio's loop.sock_*), in asyncio mode
// and in Go mode: TCP over IPv4 and IPv6, Unix-domain and UDP sockets,
// cancellation and timeouts, closing a socket under a pending read, and the
// errors a peer causes.
#include <cstdio>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io_test.hpp"

namespace {

using namespace std::chrono_literals;
using weft_io_test::io_modes;

class Sockets : public io_modes {};
WEFT_IO_MODES(Sockets);

weft::task<std::string> recv_exactly(weft::socket& s, std::size_t n) {
    std::string out;
    while (out.size() < n) {
        std::string chunk = co_await weft::sock_recv(s, n - out.size());
        if (chunk.empty()) break;
        out += chunk;
    }
    co_return out;
}

TEST_P(Sockets, SocketpairSendAndReceive) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        co_await weft::sock_sendall(a, "hello");
        EXPECT_EQ(co_await recv_exactly(b, 5), "hello");
        char buf[16];
        co_await weft::sock_sendall(b, "back");
        std::size_t n = co_await weft::sock_recv_into(a, buf);
        EXPECT_EQ(std::string(buf, n), "back");
        a.close();
        EXPECT_EQ(co_await weft::sock_recv(b, 10), "");  // end of stream
    }());
}

TEST_P(Sockets, RecvWaitsForData) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        auto reader = weft::create_task(weft::sock_recv(b, 100));
        co_await weft::sleep(0.02);
        EXPECT_FALSE(reader.done());
        co_await weft::sock_sendall(a, "late");
        EXPECT_EQ(co_await reader, "late");
    }());
}

weft::task<void> tcp_round_trip(const char* host) {
    weft::socket listener(std::string(host).find(':') != std::string::npos ? AF_INET6 : AF_INET,
                          SOCK_STREAM);
    listener.set_reuse_address(true);
    listener.bind(weft::socket_address::ip(host, 0));
    listener.listen();
    weft::socket_address where = listener.getsockname();
    EXPECT_NE(where.port(), 0);

    auto server = weft::create_task([](weft::socket& l) -> weft::task<std::string> {
        auto [conn, peer] = co_await weft::sock_accept(l);
        EXPECT_TRUE(peer.is_ip());
        std::string got = co_await weft::sock_recv(conn, 100);
        co_await weft::sock_sendall(conn, "pong:" + got);
        co_return got;
    }(listener));

    weft::socket client(where.family(), SOCK_STREAM);
    co_await weft::sock_connect(client, where);
    EXPECT_EQ(client.getpeername(), where);
    co_await weft::sock_sendall(client, "ping");
    EXPECT_EQ(co_await recv_exactly(client, 9), "pong:ping");
    EXPECT_EQ(co_await server, "ping");
}

TEST_P(Sockets, TcpOverIpv4) {
    run(tcp_round_trip("127.0.0.1"));
}

TEST_P(Sockets, TcpOverIpv6) {
    int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    bool ok = probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (probe >= 0) ::close(probe);
    if (!ok) GTEST_SKIP() << "no IPv6 loopback on this machine";
    run(tcp_round_trip("::1"));
}

TEST_P(Sockets, UnixDomainStream) {
    std::string path = "/tmp/weft-io-test-" + std::to_string(::getpid()) + "-" +
                       std::to_string(threads()) + ".sock";
    ::unlink(path.c_str());
    run([](std::string p) -> weft::task<void> {
        weft::socket listener(AF_UNIX, SOCK_STREAM);
        listener.bind(weft::socket_address::unix_path(p));
        listener.listen();
        EXPECT_EQ(listener.getsockname().path(), p);
        auto accepted = weft::create_task(weft::sock_accept(listener));
        weft::socket client(AF_UNIX, SOCK_STREAM);
        co_await weft::sock_connect(client, weft::socket_address::unix_path(p));
        auto [conn, peer] = co_await std::move(accepted);
        co_await weft::sock_sendall(client, "over unix");
        EXPECT_EQ(co_await recv_exactly(conn, 9), "over unix");
    }(path));
    ::unlink(path.c_str());
}

TEST_P(Sockets, UdpDatagrams) {
    run([]() -> weft::task<void> {
        weft::socket a(AF_INET, SOCK_DGRAM), b(AF_INET, SOCK_DGRAM);
        a.bind(weft::socket_address::ip("127.0.0.1", 0));
        b.bind(weft::socket_address::ip("127.0.0.1", 0));
        auto pending = weft::create_task(weft::sock_recvfrom(b, 1500));
        co_await weft::sleep(0.01);
        std::size_t sent = co_await weft::sock_sendto(a, "datagram", b.getsockname());
        EXPECT_EQ(sent, 8u);
        auto [data, from] = co_await pending;
        EXPECT_EQ(data, "datagram");
        EXPECT_EQ(from, a.getsockname());
        char buf[64];
        co_await weft::sock_sendto(b, "reply", from);
        auto [n, from2] = co_await weft::sock_recvfrom_into(a, buf);
        EXPECT_EQ(std::string(buf, n), "reply");
        EXPECT_EQ(from2, b.getsockname());
    }());
}

TEST_P(Sockets, WaitForCancelsAPendingRecv) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        EXPECT_THROW(co_await weft::wait_for(weft::sock_recv(b, 10), 0.02), weft::timeout_error);
        // The socket is still usable: nothing was lost or left registered.
        co_await weft::sock_sendall(a, "after");
        EXPECT_EQ(co_await weft::sock_recv(b, 10), "after");
    }());
}

// A cancel that arrives while reads complete without waiting (a fast peer)
// is raised by the first read that has to wait, never after a read took
// bytes out of the socket: each byte sent is returned exactly once. In Go
// mode the cooperative budget runs out inside this loop, and its yield
// must not be where the cancel lands.
TEST_P(Sockets, CancelNeverDropsBytesAlreadyRead) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        constexpr std::size_t total = 1000;
        co_await weft::sock_sendall(a, std::string(total, 'x'));
        auto reader = weft::create_task([](weft::socket& s) -> weft::task<std::size_t> {
            weft::current_task().cancel();  // pending until a read has to wait
            std::size_t got = 0;
            char byte;
            try {
                for (;;)
                    got += co_await weft::sock_recv_into(s, std::span<char>(&byte, 1));
            } catch (const weft::cancelled_error&) {
                weft::current_task().uncancel();
            }
            co_return got;
        }(b));
        EXPECT_EQ(co_await reader, total);
    }());
}

TEST_P(Sockets, CancelWithMessage) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        auto t = weft::create_task(weft::sock_recv(b, 10));
        co_await weft::sleep(0.01);
        t.cancel("stop reading");
        try {
            co_await t;
            ADD_FAILURE() << "the read was not cancelled";
        } catch (const weft::cancelled_error& e) {
            EXPECT_EQ(e.message(), "stop reading");
        }
    }());
}

TEST_P(Sockets, ClosingTheSocketRaisesInAPendingRead) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        auto reader = weft::create_task(weft::sock_recv(b, 10));
        co_await weft::sleep(0.01);
        b.close();
        EXPECT_THROW(co_await reader, weft::closed_error);
        EXPECT_THROW(co_await weft::sock_recv(b, 10), weft::closed_error);
        EXPECT_FALSE(b.is_open());
        EXPECT_EQ(b.fd(), -1);
    }());
}

TEST_P(Sockets, ConnectionRefused) {
    run([]() -> weft::task<void> {
        // A port nobody listens on: bind one, then close it.
        weft::socket probe(AF_INET, SOCK_STREAM);
        probe.bind(weft::socket_address::ip("127.0.0.1", 0));
        auto addr = probe.getsockname();
        probe.close();
        weft::socket s(AF_INET, SOCK_STREAM);
        try {
            co_await weft::sock_connect(s, addr);
            ADD_FAILURE() << "connected to a closed port";
        } catch (const weft::connection_error& e) {
            EXPECT_EQ(e.code(), std::errc::connection_refused);
            EXPECT_NE(std::string(e.what()).find("weft::sock_connect"), std::string::npos);
        }
    }());
}

// A connect that cannot finish (the listener's queue is full, so the kernel
// drops its SYNs) is cancelled by its timeout: on io_uring that cancels a
// request in the ring, which holds the socket until its completion. The
// socket then closes and leaves nothing behind (the fixture checks the fds),
// and the runtime ends at once.
TEST_P(Sockets, TimedOutConnectClosesCleanly) {
    run([]() -> weft::task<void> {
        weft::socket listener(AF_INET, SOCK_STREAM);
        listener.bind(weft::socket_address::ip("127.0.0.1", 0));
        listener.listen(0);
        auto addr = listener.getsockname();
        std::vector<weft::socket> clients;
        bool timed_out = false;
        for (int i = 0; i < 8 && !timed_out; ++i) {
            clients.emplace_back(AF_INET, SOCK_STREAM);
            try {
                co_await weft::wait_for(weft::sock_connect(clients.back(), addr), 0.2);
            } catch (const weft::timeout_error&) {
                timed_out = true;
            }
        }
        EXPECT_TRUE(timed_out) << "every connect finished: the listener's queue never filled";
        EXPECT_TRUE(clients.back().is_open());
        for (auto& c : clients)
            c.close();
        listener.close();
    }());
}

TEST_P(Sockets, SendallWaitsForAReader) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        std::string big(4 << 20, 'x');  // far more than a socket buffer holds
        auto writer = weft::create_task(weft::sock_sendall(a, big));
        std::size_t got = 0;
        char buf[65536];
        while (got < big.size()) {
            std::size_t n = co_await weft::sock_recv_into(b, buf);
            if (n == 0) break;
            got += n;
        }
        co_await writer;
        EXPECT_EQ(got, big.size());
    }());
}

TEST_P(Sockets, ErrorsNameTheOperation) {
    run([]() -> weft::task<void> {
        weft::socket s;
        EXPECT_FALSE(s.is_open());
        EXPECT_THROW(co_await weft::sock_recv(s, 1), weft::closed_error);
        EXPECT_THROW(s.bind(weft::socket_address::ip("127.0.0.1", 0)), weft::closed_error);
        EXPECT_THROW(weft::socket_address::ip("localhost", 1), std::invalid_argument);
        EXPECT_THROW(weft::socket_address::unix_path(std::string(200, 'a')), std::invalid_argument);
        weft::socket t(AF_INET, SOCK_STREAM);
        try {
            t.listen();
            t.bind(weft::socket_address::ip("127.0.0.1", 0));  // bind after listen: EINVAL
            ADD_FAILURE();
        } catch (const std::system_error& e) {
            EXPECT_NE(std::string(e.what()).find("weft::socket::bind"), std::string::npos);
        }
    }());
}

TEST(SocketAddress, Formats) {
    EXPECT_EQ(weft::socket_address::ip("127.0.0.1", 80).to_string(), "127.0.0.1:80");
    EXPECT_EQ(weft::socket_address::ip("::1", 443).to_string(), "[::1]:443");
    EXPECT_EQ(weft::socket_address::ip("[::1]", 443).host(), "::1");
    EXPECT_EQ(weft::socket_address::unix_path("/tmp/x").to_string(), "/tmp/x");
    EXPECT_EQ(weft::socket_address::unix_path(std::string("\0abs", 4)).to_string(), "@abs");
    EXPECT_EQ(weft::socket_address().to_string(), "<unspecified>");
}

}  // namespace
