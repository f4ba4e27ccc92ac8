// asyncio's streams on weft: the reader's methods and their errors (pinned
// against asyncio.StreamReader's behaviour with a hand-fed reader), the
// writer's flow control, open_connection over TCP and Unix sockets, and
// name resolution.
#include <string>
#include <system_error>
#include <vector>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io_test.hpp"

namespace {

using weft_io_test::io_modes;

class Streams : public io_modes {};
WEFT_IO_MODES(Streams);

// ---- the reader, fed by hand (as CPython's test_streams does)

TEST_P(Streams, ReadReturnsWhatIsBufferedUpToN) {
    run([]() -> weft::task<void> {
        weft::stream_reader r;
        r.feed_data("line1\nline2\n");
        EXPECT_EQ(co_await r.read(3), "lin");
        EXPECT_EQ(r.buffered(), 9u);
        EXPECT_EQ(co_await r.read(100), "e1\nline2\n");
        EXPECT_EQ(co_await r.read(0), "");
        r.feed_eof();
        EXPECT_EQ(co_await r.read(10), "");  // end of stream
        EXPECT_TRUE(r.at_eof());
    }());
}

TEST_P(Streams, ReadAllWaitsForTheEnd) {
    run([]() -> weft::task<void> {
        weft::stream_reader r;
        auto all = weft::create_task(r.read());
        co_await weft::sleep(0.01);
        r.feed_data("chunk1 ");
        co_await weft::sleep(0.01);
        r.feed_data("chunk2");
        EXPECT_FALSE(all.done());
        r.feed_eof();
        EXPECT_EQ(co_await all, "chunk1 chunk2");
    }());
}

TEST_P(Streams, ReadlineAndAtEof) {
    run([]() -> weft::task<void> {
        weft::stream_reader r;
        r.feed_data("one\ntwo\nthree");
        r.feed_eof();
        EXPECT_EQ(co_await r.readline(), "one\n");
        EXPECT_EQ(co_await r.readline(), "two\n");
        EXPECT_FALSE(r.at_eof());
        EXPECT_EQ(co_await r.readline(), "three");  // the partial last line
        EXPECT_TRUE(r.at_eof());
        EXPECT_EQ(co_await r.readline(), "");
    }());
}

TEST_P(Streams, ReadlineWaitsAcrossChunks) {
    run([]() -> weft::task<void> {
        weft::stream_reader r;
        auto line = weft::create_task(r.readline());
        co_await weft::sleep(0.01);
        r.feed_data("hel");
        co_await weft::sleep(0.01);
        EXPECT_FALSE(line.done());
        r.feed_data("lo\nrest");
        EXPECT_EQ(co_await line, "hello\n");
        EXPECT_EQ(r.buffered(), 4u);
    }());
}

TEST_P(Streams, ReadlineTooLongRaisesAndDropsTheLine) {
    run([]() -> weft::task<void> {
        weft::stream_reader r(8);
        r.feed_data("0123456789\nnext\n");
        EXPECT_THROW(co_await r.readline(), std::invalid_argument);
        EXPECT_EQ(co_await r.readline(), "next\n");  // the long line is gone
    }());
}

TEST_P(Streams, ReaduntilSeparatorAndLimitOverrun) {
    run([]() -> weft::task<void> {
        weft::stream_reader r(10);
        r.feed_data("key=value;");
        EXPECT_EQ(co_await r.readuntil(";"), "key=value;");
        r.feed_data("a--b--");
        EXPECT_EQ(co_await r.readuntil("--"), "a--");
        EXPECT_EQ(co_await r.readuntil("--"), "b--");

        r.feed_data("no separator here at all");
        try {
            co_await r.readuntil(";");
            ADD_FAILURE() << "no limit_overrun_error";
        } catch (const weft::limit_overrun_error& e) {
            EXPECT_GT(e.consumed(), 10u);
        }
        EXPECT_EQ(r.buffered(), 24u);  // nothing was consumed

        weft::stream_reader r2(5);
        r2.feed_data("toolong;");
        try {
            co_await r2.readuntil(";");
            ADD_FAILURE() << "no limit_overrun_error";
        } catch (const weft::limit_overrun_error& e) {
            EXPECT_EQ(e.consumed(), 7u);  // where the separator was found
            EXPECT_STREQ(e.what(), "Separator is found, but chunk is longer than limit");
        }
        EXPECT_THROW(co_await r2.readuntil(""), std::invalid_argument);
    }());
}

TEST_P(Streams, ReaduntilAtEofRaisesIncompleteReadWithThePartialBytes) {
    run([]() -> weft::task<void> {
        weft::stream_reader r;
        r.feed_data("partial");
        r.feed_eof();
        try {
            co_await r.readuntil("\r\n");
            ADD_FAILURE() << "no incomplete_read_error";
        } catch (const weft::incomplete_read_error& e) {
            EXPECT_EQ(e.partial(), "partial");
            EXPECT_FALSE(e.expected().has_value());
        }
        EXPECT_TRUE(r.at_eof());
    }());
}

TEST_P(Streams, ReadexactlyWaitsOrRaisesIncompleteRead) {
    run([]() -> weft::task<void> {
        weft::stream_reader r;
        auto four = weft::create_task(r.readexactly(4));
        r.feed_data("ab");
        co_await weft::sleep(0.01);
        EXPECT_FALSE(four.done());
        r.feed_data("cdef");
        EXPECT_EQ(co_await four, "abcd");
        r.feed_eof();
        try {
            co_await r.readexactly(5);
            ADD_FAILURE() << "no incomplete_read_error";
        } catch (const weft::incomplete_read_error& e) {
            EXPECT_EQ(e.partial(), "ef");
            EXPECT_EQ(e.expected(), 5u);
            EXPECT_STREQ(e.what(), "2 bytes read on a total of 5 expected bytes");
        }
        EXPECT_EQ(co_await r.readexactly(0), "");
    }());
}

TEST_P(Streams, SetExceptionIsRaisedByReads) {
    run([]() -> weft::task<void> {
        weft::stream_reader r;
        auto pending = weft::create_task(r.read(10));
        co_await weft::sleep(0.01);
        r.set_exception(std::make_exception_ptr(std::runtime_error("broken")));
        EXPECT_THROW(co_await pending, std::runtime_error);
        EXPECT_THROW(co_await r.readline(), std::runtime_error);
        EXPECT_TRUE(r.exception() != nullptr);
    }());
}

TEST_P(Streams, OneReaderAtATime) {
    run([]() -> weft::task<void> {
        weft::stream_reader r;
        auto first = weft::create_task(r.read(10));
        co_await weft::sleep(0.01);
        EXPECT_THROW(co_await r.readline(), std::logic_error);
        r.feed_data("x");
        EXPECT_EQ(co_await first, "x");
    }());
}

// ---- over connections

weft::task<void> echo_lines(weft::stream_reader reader, weft::stream_writer writer) {
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;
        writer.write(line);
        co_await writer.drain();
    }
    writer.close();
    co_await writer.wait_closed();
}

TEST_P(Streams, OpenConnectionToStartServer) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(echo_lines, "127.0.0.1", 0);
        CO_ASSERT_TRUE(srv.addresses().size() == 1u);
        std::uint16_t port = srv.addresses()[0].port();
        EXPECT_TRUE(srv.is_serving());

        auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
        EXPECT_EQ(writer.peername().port(), port);
        EXPECT_EQ(writer.sockname().host(), "127.0.0.1");
        writer.write("hello\n");
        writer.writelines(std::vector<std::string>{"a", "b\n"});
        co_await writer.drain();
        EXPECT_EQ(co_await reader.readline(), "hello\n");
        EXPECT_EQ(co_await reader.readline(), "ab\n");
        writer.write_eof();  // the server sees EOF, closes its side
        EXPECT_EQ(co_await reader.read(), "");
        EXPECT_TRUE(reader.at_eof());
        writer.close();
        co_await writer.wait_closed();
        EXPECT_TRUE(writer.is_closing());

        srv.close();
        co_await srv.wait_closed();
        EXPECT_FALSE(srv.is_serving());
    }());
}

// A failed send closes the transport (asyncio's _fatal_error). A read
// waiting then, and every later one, raises the send's error, as asyncio's
// reader raises the exception connection_lost brought, not closed_error.
// (On io_uring the send fails in the ring, after write() returned.)
TEST_P(Streams, ReadsRaiseTheErrorOfAFailedSend) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        auto [reader, writer] = weft::open_stream(std::move(a));
        auto pending = weft::create_task(reader.read(10));
        co_await weft::sleep(0.01);  // the read waits
        b.shutdown(SHUT_RD);         // b takes nothing more, and sends nothing
        try {
            writer.write("x");  // EPIPE: raised here on epoll, in the ring on io_uring
        } catch (const weft::connection_error&) {
        }
        std::string outcome = "returned";
        try {
            co_await weft::wait_for(pending, 5.0);
        } catch (const weft::connection_error& e) {
            outcome = e.code() == std::errc::broken_pipe ? "EPIPE" : e.what();
        } catch (const weft::closed_error& e) {
            outcome = std::string("closed_error: ") + e.what();
        }
        EXPECT_EQ(outcome, "EPIPE");
        bool raised = false;
        try {
            co_await reader.read(10);
        } catch (const weft::connection_error& e) {
            raised = e.code() == std::errc::broken_pipe;
        }
        EXPECT_TRUE(raised) << "a later read does not raise the send's error";
        writer.close();
    }());
}

// close() stops listening at once, as asyncio's does, also while the accept
// loop has an accept in flight (on io_uring a request in the ring, which
// holds the listening socket until its completion): a connection made
// right after it is refused.
TEST_P(Streams, ServerCloseRefusesConnectionsAtOnce) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(echo_lines, "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        co_await weft::sleep(0.02);  // the accept loop waits for a connection
        srv.close();
        bool refused = false;
        try {
            auto conn = co_await weft::open_connection("127.0.0.1", port);
            conn.second.close();
        } catch (const weft::connection_error& e) {
            refused = e.code() == std::errc::connection_refused;
        }
        EXPECT_TRUE(refused) << "a connection to a closed server was not refused";
        co_await srv.wait_closed();
    }());
}

// Every connection a TCP server accepts has TCP_NODELAY, as asyncio's do:
// set on the listener, which Linux copies to the sockets it accepts (the
// first connection checks it), so the others take no system call for it.
// The server's ends are found among this process's fds: TCP sockets bound
// to the server's port with a peer.
TEST_P(Streams, ServerConnectionsHaveNoDelay) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(echo_lines, "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        std::vector<weft::stream_writer> writers;
        for (int i = 0; i < 3; ++i) {
            auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
            writer.write("x\n");
            std::string echoed = co_await reader.readline();  // accepted and served
            EXPECT_EQ(echoed, "x\n");
            writers.push_back(std::move(writer));
        }
        int found = 0;
        int nodelay = 0;
        for (int fd = 0; fd < 4096; ++fd) {
            sockaddr_in self{};
            sockaddr_in peer{};
            socklen_t len = sizeof self;
            if (::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &len) < 0 ||
                self.sin_family != AF_INET || ntohs(self.sin_port) != port) {
                continue;
            }
            len = sizeof peer;
            if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) < 0) continue;
            ++found;
            int on = 0;
            len = sizeof on;
            if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on != 0) ++nodelay;
        }
        EXPECT_EQ(found, 3);
        EXPECT_EQ(nodelay, found);
        for (auto& w : writers) {
            w.close();
            co_await w.wait_closed();
        }
        srv.close();
        co_await srv.wait_closed();
    }());
}

// A server's streams know both ends: the peer from accept(), the local
// address from the socket.
TEST_P(Streams, ServerSideStreamsKnowBothAddresses) {
    run([]() -> weft::task<void> {
        auto handler = [](weft::stream_reader, weft::stream_writer writer) -> weft::task<void> {
            writer.write(writer.peername().to_string() + " " + writer.sockname().to_string() +
                         "\n");
            co_await writer.drain();
            writer.close();
            co_await writer.wait_closed();
        };
        weft::server srv = co_await weft::start_server(handler, "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
        std::string seen = co_await reader.readline();
        EXPECT_EQ(seen, writer.sockname().to_string() + " " + writer.peername().to_string() + "\n");
        EXPECT_NE(writer.sockname().port(), port);
        writer.close();
        co_await writer.wait_closed();
        srv.close();
        co_await srv.wait_closed();
    }());
}

// SO_REUSEPORT: several servers (in scale-out, several processes) on one
// port, the kernel spreading the connections among them; a server that does
// not ask for it is refused the port.
weft::client_connected tag_server(std::string tag) {
    return [tag](weft::stream_reader, weft::stream_writer writer) -> weft::task<void> {
        writer.write(tag + "\n");
        co_await writer.drain();
        writer.close();
        co_await writer.wait_closed();
    };
}

TEST_P(Streams, ReusePortServersShareAPort) {
    run([]() -> weft::task<void> {
        weft::server_options shared{.reuse_port = true};
        weft::server a = co_await weft::start_server(tag_server("a"), "127.0.0.1", 0, shared);
        std::uint16_t port = a.addresses()[0].port();
        weft::server b = co_await weft::start_server(tag_server("b"), "127.0.0.1", port, shared);
        EXPECT_EQ(b.addresses()[0].port(), port);

        bool refused = false;
        try {
            co_await weft::start_server(tag_server("c"), "127.0.0.1", port);
        } catch (const std::system_error& e) {
            refused = e.code() == std::errc::address_in_use;
        }
        EXPECT_TRUE(refused) << "a server without reuse_port must not get the port";

        // The kernel hashes each connection's addresses to one of the two
        // listeners: 32 connections all reaching one has odds of 2^-31.
        int seen_a = 0;
        int seen_b = 0;
        for (int i = 0; i < 32; ++i) {
            auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
            std::string tag = co_await reader.readline();
            seen_a += tag == "a\n" ? 1 : 0;
            seen_b += tag == "b\n" ? 1 : 0;
            writer.close();
            co_await writer.wait_closed();
        }
        EXPECT_EQ(seen_a + seen_b, 32);
        EXPECT_GT(seen_a, 0);
        EXPECT_GT(seen_b, 0);
        a.close();
        b.close();
        co_await a.wait_closed();
        co_await b.wait_closed();
    }());
}

TEST_P(Streams, OpenConnectionResolvesNames) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(echo_lines, "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        // "localhost" goes through the resolver threads.
        auto [reader, writer] =
            co_await weft::open_connection("localhost", port, {.family = AF_INET});
        writer.write("named\n");
        EXPECT_EQ(co_await reader.readline(), "named\n");
    }());
}

TEST_P(Streams, UnixServerAndConnection) {
    std::string path = "/tmp/weft-io-stream-" + std::to_string(::getpid()) + "-" +
                       std::to_string(threads()) + ".sock";
    run([](std::string p) -> weft::task<void> {
        weft::server srv = co_await weft::start_unix_server(echo_lines, p);
        auto [reader, writer] = co_await weft::open_unix_connection(p);
        writer.write("over unix\n");
        EXPECT_EQ(co_await reader.readline(), "over unix\n");
        EXPECT_EQ(srv.addresses()[0].path(), p);
        srv.close();
        EXPECT_NE(::access(p.c_str(), F_OK), 0) << "the socket file is removed on close";
    }(path));
}

// As Sockets.CancelNeverDropsBytesAlreadyRead, through a stream reader
// whose reads go straight from the socket into the caller's string.
TEST_P(Streams, CancelNeverDropsBytesAlreadyRead) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        constexpr std::size_t total = 1000;
        co_await weft::sock_sendall(a, std::string(total, 'x'));
        auto [reader, writer] = weft::open_stream(std::move(b));
        auto t = weft::create_task([](weft::stream_reader& r) -> weft::task<std::size_t> {
            weft::current_task().cancel();
            std::size_t got = 0;
            try {
                for (;;)
                    got += (co_await r.read(1)).size();
            } catch (const weft::cancelled_error&) {
                weft::current_task().uncancel();
            }
            got += r.buffered();
            co_return got;
        }(reader));
        EXPECT_EQ(co_await t, total);
        writer.close();
        co_await writer.wait_closed();
    }());
}

// The read is cancelled while it waits for bytes that have not come yet (on
// io_uring, while its recv request is in the ring). What arrives afterwards
// belongs to the next read, in order, and nothing is lost or doubled.
TEST_P(Streams, BytesArrivingAfterACancelledReadGoToTheNextOne) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        auto [reader, writer] = weft::open_stream(std::move(b));
        for (int round = 0; round < 20; ++round) {
            auto waiting = weft::create_task(reader.read(100));
            co_await weft::sleep(0.002);
            EXPECT_FALSE(waiting.done());
            waiting.cancel();
            EXPECT_THROW(co_await waiting, weft::cancelled_error);
            std::string sent = "round " + std::to_string(round) + ";";
            co_await weft::sock_sendall(a, sent);
            std::string got;
            while (got.size() < sent.size())
                got += co_await weft::wait_for(reader.read(100), 5.0);
            EXPECT_EQ(got, sent);
        }
        // And a peer's end of stream after a cancelled read is still seen.
        auto waiting = weft::create_task(reader.read(100));
        co_await weft::sleep(0.002);
        waiting.cancel();
        EXPECT_THROW(co_await waiting, weft::cancelled_error);
        a.close();
        EXPECT_EQ(co_await weft::wait_for(reader.read(100), 5.0), "");
        EXPECT_TRUE(reader.at_eof());
        writer.close();
        co_await writer.wait_closed();
    }());
}

// Writes queued behind one another (on io_uring, behind a send request in
// the ring) arrive whole and in order, and the queue's size counts every
// byte not yet sent.
TEST_P(Streams, QueuedWritesArriveInOrder) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        auto [reader, writer] = weft::open_stream(std::move(a));
        std::string expected;
        for (int i = 0; i < 2000; ++i) {
            std::string piece = std::to_string(i) + std::string(i % 97, '.') + "|";
            writer.write(piece);
            expected += piece;
        }
        EXPECT_LE(writer.write_buffer_size(), expected.size());
        std::string got;
        char buf[65536];
        while (got.size() < expected.size()) {
            std::size_t n = co_await weft::wait_for(weft::sock_recv_into(b, buf), 5.0);
            CO_ASSERT_TRUE(n > 0);
            got.append(buf, n);
        }
        EXPECT_EQ(got, expected);
        // The peer has every byte; the writer learns it when its last send
        // completes (on io_uring, at the next poll of the ring's worker), so
        // the queue's size falls to 0 soon after, not necessarily yet.
        // (drain() only waits for the low water mark.)
        for (int i = 0; i < 5000 && writer.write_buffer_size() > 0; ++i)
            co_await weft::sleep(0.001);
        EXPECT_EQ(writer.write_buffer_size(), 0u);
        writer.close();
        co_await writer.wait_closed();
        EXPECT_EQ(co_await weft::sock_recv(b, 10), "") << "close sends a FIN once the queue is out";
    }());
}

TEST_P(Streams, WriteBufferLimits) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        auto [reader, writer] = weft::open_stream(std::move(a));
        EXPECT_EQ(writer.write_buffer_limits(),
                  (std::pair<std::size_t, std::size_t>{16384, 65536}));
        writer.set_write_buffer_limits(1000);
        EXPECT_EQ(writer.write_buffer_limits(), (std::pair<std::size_t, std::size_t>{250, 1000}));
        writer.set_write_buffer_limits(std::nullopt, 100);
        EXPECT_EQ(writer.write_buffer_limits(), (std::pair<std::size_t, std::size_t>{100, 400}));
        EXPECT_THROW(writer.set_write_buffer_limits(10, 20), std::invalid_argument);
        EXPECT_EQ(writer.write_buffer_size(), 0u);
        co_return;
    }());
}

TEST_P(Streams, DrainWaitsForTheLowWaterMark) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::socketpair();
        auto [reader, writer] = weft::open_stream(std::move(a));
        std::string chunk(2 << 20, 'z');
        writer.write(chunk);  // more than the socket takes: the rest is queued
        EXPECT_GT(writer.write_buffer_size(), 64u * 1024);
        auto drained = weft::create_task(writer.drain());
        co_await weft::sleep(0.02);
        EXPECT_FALSE(drained.done()) << "nobody reads yet: drain must wait";
        // Read everything; drain returns once the queue is at most 16 KiB.
        std::size_t got = 0;
        char buf[65536];
        while (got < chunk.size())
            got += co_await weft::sock_recv_into(b, buf);
        co_await drained;
        // drain() returned at the low water mark; the last send's
        // completion (on io_uring, at the next poll of the ring's worker)
        // brings the size to 0 soon after.
        for (int i = 0; i < 5000 && writer.write_buffer_size() > 0; ++i)
            co_await weft::sleep(0.001);
        EXPECT_EQ(writer.write_buffer_size(), 0u);
    }());
}

TEST_P(Streams, Resolver) {
    run([]() -> weft::task<void> {
        auto numeric = co_await weft::getaddrinfo("127.0.0.1", 80, 0, SOCK_STREAM);
        CO_ASSERT_TRUE(numeric.size() == 1u);
        EXPECT_EQ(numeric[0].address.to_string(), "127.0.0.1:80");
        auto v6 = co_await weft::getaddrinfo("::1", "443");
        EXPECT_EQ(v6.size(), 2u);  // stream and datagram
        EXPECT_EQ(v6[0].address.family(), AF_INET6);

        auto local = co_await weft::getaddrinfo("localhost", 8080, AF_INET, SOCK_STREAM);
        CO_ASSERT_TRUE(!local.empty());
        EXPECT_EQ(local[0].address.to_string(), "127.0.0.1:8080");

        try {
            co_await weft::getaddrinfo("not a numeric host", 80, 0, 0, 0, AI_NUMERICHOST);
            ADD_FAILURE() << "no resolve_error";
        } catch (const weft::resolve_error& e) {
            EXPECT_EQ(e.code(), EAI_NONAME);
            EXPECT_NE(std::string(e.what()).find("not a numeric host"), std::string::npos);
        }
        auto [host, service] = co_await weft::getnameinfo(weft::socket_address::ip("127.0.0.1", 22),
                                                          NI_NUMERICHOST | NI_NUMERICSERV);
        EXPECT_EQ(host, "127.0.0.1");
        EXPECT_EQ(service, "22");
    }());
}

// The runtime ends while a stream's send waits for a peer that does not
// read (on io_uring, a send request in the ring): the run ends at once,
// dropping what is unsent, and closes the socket; the peer, still open,
// sees the bytes that went out and then the end of the stream.
TEST_P(Streams, TheRuntimeEndsWhileASendWaitsForThePeer) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    const std::string big(8 << 20, 'x');
    const auto t0 = std::chrono::steady_clock::now();
    run([](int fd, const std::string& data) -> weft::task<void> {
        auto [reader, writer] = weft::open_stream(weft::socket::adopt(fd));
        writer.write(data);  // far more than the socket buffers take
        co_await weft::sleep(0.01);
        EXPECT_GT(writer.write_buffer_size(), 0u);
    }(fds[1], big));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3))
        << "the end of the runtime waited for the send";
    // The peer reads a prefix of the bytes, then the end of the stream.
    std::size_t got = 0;
    char buf[65536];
    for (;;) {
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) {
            ADD_FAILURE() << "the socket was left open";
            break;
        }
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) {
            EXPECT_EQ(n, 0) << "a reset, not an end of stream";
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    EXPECT_LT(got, big.size());
    ::close(fds[0]);
}

// Loops on either backend, one after another on this thread: a stream asks
// on every read and write whether its loop's poller takes socket requests,
// and the answer kept for the last poller must not outlive it (a new
// poller may be made at the same address with the other backend).
TEST(StreamsOnBothBackends, OneThreadRunsLoopsOfEachInTurn) {
    std::vector<weft::io_backend> order = {weft::io_backend::epoll, weft::io_backend::epoll};
    if (weft::probe_io_uring().available) {
        order = {weft::io_backend::uring, weft::io_backend::epoll, weft::io_backend::uring,
                 weft::io_backend::uring, weft::io_backend::epoll};
    }
    for (weft::io_backend io : order) {
        std::string got = weft::run(
            []() -> weft::task<std::string> {
                auto [a, b] = weft::socketpair();
                auto [ra, wa] = weft::open_stream(std::move(a));
                auto [rb, wb] = weft::open_stream(std::move(b));
                wa.write("ping\n");
                std::string line = co_await rb.readline();
                wb.write(line);
                std::string back = co_await ra.readline();
                wa.close();
                wb.close();
                co_await wa.wait_closed();
                co_await wb.wait_closed();
                co_return back;
            }(),
            {.threads = 1, .io = io});
        EXPECT_EQ(got, "ping\n") << weft::to_string(io);
    }
}

}  // namespace
