// The faults a server meets in production, each in asyncio mode and in Go
// mode: the server keeps serving and no other connection loses data.
//
//   - accept() hitting EMFILE: it backs off (no busy loop) and recovers;
//   - a peer resetting the connection mid-write: the writer gets a clear
//     connection_error;
//   - a peer that never reads: drain() waits and the queue stays bounded by
//     the high water mark;
//   - half-close: the peer's write_eof() is our EOF, and we can still answer;
//   - closing a stream while a read is pending: the read raises;
//   - a handler that throws: reported, and the server goes on;
//   - 10,000 simultaneous connections.
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io_test.hpp"

namespace {

using weft_io_test::io_modes;
using weft_io_test::reports;

class Faults : public io_modes {};
WEFT_IO_MODES(Faults);

weft::task<void> echo_lines(weft::stream_reader reader, weft::stream_writer writer) {
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) co_return;
        writer.write(line);
        co_await writer.drain();
    }
}

// A round trip on a fresh connection: the server is still serving.
weft::task<void> expect_echo(std::uint16_t port, std::string text) {
    auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
    writer.write(text + "\n");
    EXPECT_EQ(co_await reader.readline(), text + "\n");
}

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

TEST_P(Faults, AcceptOutOfFdsBacksOffAndRecovers) {
    run([]() -> weft::task<void> {
        reports rep;
        rep.install(weft::get_running_loop());
        weft::server srv = co_await weft::start_server(echo_lines, "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        auto addr = weft::socket_address::ip("127.0.0.1", port);

        // The clients' fds exist before the limit drops; connecting needs none.
        constexpr int clients = 4;
        std::vector<weft::socket> socks;
        for (int i = 0; i < clients; ++i)
            socks.emplace_back(AF_INET, SOCK_STREAM);
        int highest = 0;
        for (auto& s : socks)
            highest = std::max(highest, s.fd());
        for (int fd = highest + 1; fd < highest + 64; ++fd)
            if (::fcntl(fd, F_GETFD) >= 0) highest = fd;
        rlimit saved{};
        ::getrlimit(RLIMIT_NOFILE, &saved);
        rlimit low = saved;
        low.rlim_cur = static_cast<rlim_t>(highest + 1);  // no new fd can be made
        CO_ASSERT_TRUE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
        struct restore {
            rlimit r;
            ~restore() { ::setrlimit(RLIMIT_NOFILE, &r); }
        } guard{saved};

        for (auto& s : socks)
            co_await weft::sock_connect(s, addr);  // queued by the kernel; accept fails
        double cpu0 = cpu_seconds();
        co_await weft::sleep(0.3);
        double cpu = cpu_seconds() - cpu0;
        std::size_t failures = rep.count();
        // Backing off 10, 20, 40, 80, 160 ms: a handful of retries, not a spin.
        EXPECT_GE(failures, 2u) << rep.all();
        EXPECT_LE(failures, 8u) << rep.all();
        EXPECT_LT(cpu, 0.1) << "accept() retried in a busy loop";
        EXPECT_NE(rep.all().find("out of system resources"), std::string::npos) << rep.all();
        EXPECT_NE(rep.all().find("Too many open files"), std::string::npos) << rep.all();

        ::setrlimit(RLIMIT_NOFILE, &saved);
        // Every queued client is served once fds are back (within the 320 ms
        // backoff), and new ones too.
        for (auto& s : socks) {
            auto [reader, writer] = weft::open_stream(std::move(s));
            writer.write("served\n");
            EXPECT_EQ(co_await weft::wait_for(reader.readline(), 5.0), "served\n");
        }
        co_await expect_echo(port, "fresh");
    }());
}

// One server for the writing faults: a client that sends "flood" gets 16 KiB
// chunks until the connection fails (what happened goes to `outcome`), with
// the largest queue seen in `max_queued`; any other client gets its lines
// echoed, which shows the server still serving everyone else.
struct flood_server {
    weft::future<std::string> outcome;
    std::atomic<std::size_t> max_queued{0};
    std::atomic<int> chunks{0};

    weft::client_connected handler() {
        return [this](weft::stream_reader reader, weft::stream_writer writer) -> weft::task<void> {
            std::string first = co_await reader.readline();
            if (first != "flood\n") {
                for (std::string line = first; !line.empty(); line = co_await reader.readline()) {
                    writer.write(line);
                    co_await writer.drain();
                }
                co_return;
            }
            std::string chunk(16 * 1024, 'x');
            try {
                for (;;) {
                    writer.write(chunk);
                    std::size_t q = writer.write_buffer_size();
                    if (q > max_queued.load()) max_queued = q;
                    chunks.fetch_add(1);
                    co_await writer.drain();
                }
            } catch (const weft::connection_error& e) {
                outcome.try_set_result(std::string("connection_error: ") + e.what());
            }
        };
    }
};

TEST_P(Faults, PeerResetMidWriteGivesTheWriterAClearError) {
    run([]() -> weft::task<void> {
        flood_server fs;
        weft::server srv = co_await weft::start_server(fs.handler(), "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();

        weft::socket peer(AF_INET, SOCK_STREAM);
        co_await weft::sock_connect(peer, weft::socket_address::ip("127.0.0.1", port));
        co_await weft::sock_sendall(peer, "flood\n");
        std::string first = co_await weft::sock_recv(peer, 1000);
        EXPECT_FALSE(first.empty());
        co_await weft::sleep(0.02);  // let the server's queue fill
        // SO_LINGER 0: close() sends RST with data unread.
        linger l{1, 0};
        ::setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        peer.close();

        std::string what = co_await weft::wait_for(fs.outcome, 5.0);
        EXPECT_EQ(what.rfind("connection_error: ", 0), 0u) << what;
        EXPECT_TRUE(what.find("reset") != std::string::npos ||
                    what.find("Broken pipe") != std::string::npos)
            << what;
        co_await expect_echo(port, "still serving");
    }());
}

TEST_P(Faults, PeerThatNeverReadsKeepsTheQueueBounded) {
    run([]() -> weft::task<void> {
        flood_server fs;
        weft::server srv = co_await weft::start_server(fs.handler(), "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();

        weft::socket lazy(AF_INET, SOCK_STREAM);
        co_await weft::sock_connect(lazy, weft::socket_address::ip("127.0.0.1", port));
        co_await weft::sock_sendall(lazy, "flood\n");
        co_await weft::sleep(0.3);  // it never reads
        int written = fs.chunks.load();
        co_await weft::sleep(0.1);
        EXPECT_EQ(fs.chunks.load(), written) << "the writer must be blocked in drain()";
        // High water mark (64 KiB) plus one write.
        EXPECT_LE(fs.max_queued.load(), 64u * 1024 + 16 * 1024);
        EXPECT_GT(fs.max_queued.load(), 0u);
        co_await expect_echo(port, "others are served meanwhile");
        lazy.close();  // the writer fails (reset), its task ends
        co_await weft::wait_for(fs.outcome, 5.0);
    }());
}

TEST_P(Faults, HalfCloseLetsTheServerAnswerAfterEof) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(
            [](weft::stream_reader reader, weft::stream_writer writer) -> weft::task<void> {
                std::string all = co_await reader.read();  // until the client's EOF
                EXPECT_TRUE(reader.at_eof());
                writer.write("got " + std::to_string(all.size()) + " bytes\n");
                co_await writer.drain();
                writer.close();
                co_await writer.wait_closed();
            },
            "127.0.0.1", 0);
        auto [reader, writer] =
            co_await weft::open_connection("127.0.0.1", srv.addresses()[0].port());
        EXPECT_TRUE(writer.can_write_eof());
        writer.write(std::string(100'000, 'q'));
        writer.write_eof();  // sent once the queue is
        EXPECT_THROW(writer.write("more"), std::logic_error);
        EXPECT_EQ(co_await reader.readline(), "got 100000 bytes\n");
        EXPECT_EQ(co_await reader.read(), "");
    }());
}

TEST_P(Faults, ClosingAStreamRaisesInItsPendingRead) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(echo_lines, "127.0.0.1", 0);
        auto [reader, writer] =
            co_await weft::open_connection("127.0.0.1", srv.addresses()[0].port());
        auto pending = weft::create_task(reader.readline());
        co_await weft::sleep(0.02);
        EXPECT_FALSE(pending.done());
        writer.close();
        EXPECT_THROW(co_await weft::wait_for(pending, 5.0), weft::closed_error);
        EXPECT_THROW(co_await reader.read(10), weft::closed_error);
        EXPECT_THROW(writer.write("x"), weft::closed_error);
        co_await writer.wait_closed();
        co_await expect_echo(srv.addresses()[0].port(), "unaffected");
    }());
}

TEST_P(Faults, HandlerExceptionsAreReportedAndTheServerGoesOn) {
    run([]() -> weft::task<void> {
        reports rep;
        rep.install(weft::get_running_loop());
        weft::server srv = co_await weft::start_server(
            [](weft::stream_reader reader, weft::stream_writer writer) -> weft::task<void> {
                std::string line = co_await reader.readline();
                if (line == "boom\n") throw std::runtime_error("handler failed");
                writer.write(line);
            },
            "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        {
            auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
            writer.write("boom\n");
            EXPECT_EQ(co_await reader.read(), "");  // the connection is closed
        }
        co_await expect_echo(port, "next");
        EXPECT_EQ(rep.count(), 1u);
        EXPECT_NE(rep.all().find("Unhandled exception in client_connected_cb"), std::string::npos);
        EXPECT_NE(rep.all().find("handler failed"), std::string::npos);
    }());
}

TEST_P(Faults, ServerCloseWaitClosedAndServeForever) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(echo_lines, "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        auto forever = weft::create_task(srv.serve_forever());
        auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
        writer.write("one\n");
        EXPECT_EQ(co_await reader.readline(), "one\n");
        EXPECT_EQ(srv.active_connections(), 1u);

        srv.close();
        co_await forever;  // returns on close()
        EXPECT_FALSE(srv.is_serving());
        // The connection goes on after close(); wait_closed waits for it.
        writer.write("two\n");
        EXPECT_EQ(co_await reader.readline(), "two\n");
        auto closed = weft::create_task(srv.wait_closed());
        co_await weft::sleep(0.02);
        EXPECT_FALSE(closed.done());
        srv.close_clients();
        // Gracefully: the handler's readline sees the end of the stream, the
        // client a FIN; the connection ends once the client closes too.
        EXPECT_EQ(co_await reader.read(), "");
        writer.close();
        co_await weft::wait_for(closed, 5.0);
        EXPECT_EQ(srv.active_connections(), 0u);
        EXPECT_THROW(co_await srv.serve_forever(), std::logic_error);
        // A new connection is refused.
        EXPECT_THROW(co_await weft::open_connection("127.0.0.1", port), weft::connection_error);
    }());
}

// ---- graceful shutdown: close_clients() and shutdown(grace_period)

// Answers each line after 0.1 s (a request in flight for that long).
weft::task<void> slow_lines(weft::stream_reader reader, weft::stream_writer writer) {
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;
        co_await weft::sleep(0.1);
        writer.write("done " + line);
        co_await writer.drain();
    }
}

TEST_P(Faults, ShutdownLetsRequestsInFlightFinish) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(slow_lines, "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
        auto [idle_reader, idle_writer] = co_await weft::open_connection("127.0.0.1", port);
        writer.write("one\n");
        co_await writer.drain();
        co_await weft::sleep(0.03);  // the server is working on "one"
        auto down = weft::create_task(srv.shutdown(5.0));
        // The request in flight is answered, then the stream ends (a FIN,
        // no reset); the idle connection ends at once.
        EXPECT_EQ(co_await reader.readline(), "done one\n");
        EXPECT_EQ(co_await reader.read(), "");
        EXPECT_EQ(co_await idle_reader.read(), "");
        EXPECT_FALSE(down.done());  // until the clients close their side
        writer.close();
        idle_writer.close();
        EXPECT_TRUE(co_await weft::wait_for(down, 5.0));
        EXPECT_EQ(srv.active_connections(), 0u);
        EXPECT_FALSE(srv.is_serving());
    }());
}

// Bytes the handler never read do not turn the close into a reset: the
// connection reads and drops them until the client closes.
TEST_P(Faults, CloseClientsWithUnreadBytesSendsAFinNotAReset) {
    run([]() -> weft::task<void> {
        // The handler answers once close_clients() has stopped its reads
        // (a sleep was not enough under TSan: the handler could end first).
        auto stopped = std::make_shared<weft::event>();
        auto never_reads = [stopped](weft::stream_reader,
                                     weft::stream_writer writer) -> weft::task<void> {
            co_await stopped->wait();
            writer.write("bye\n");
            co_await writer.drain();
        };
        weft::server srv = co_await weft::start_server(never_reads, "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
        writer.write(std::string(100000, 'x'));  // the kernel's buffers take it
        co_await writer.drain();
        co_await weft::sleep(0.02);
        srv.close();
        srv.close_clients();
        stopped->set();
        std::string got;
        try {
            got = co_await reader.read();  // the whole reply, then the end
            EXPECT_EQ(got, "bye\n");
            EXPECT_EQ(co_await reader.read(), "");
        } catch (const weft::connection_error& e) {
            ADD_FAILURE() << "reset instead of a FIN: " << e.what() << " after '" << got << "'";
        }
        writer.write(std::string(10000, 'y'));  // more the server drops
        co_await writer.drain();
        writer.close();
        co_await weft::wait_for(srv.wait_closed(), 5.0);
    }());
}

TEST_P(Faults, ShutdownAbortsWhatOutlastsTheGracePeriod) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(slow_lines, "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
        // A client that keeps sending: its handler never runs out of lines.
        auto chatter = weft::create_task([](weft::stream_writer w) -> weft::task<void> {
            try {
                for (;;) {
                    w.write("more\n");
                    co_await w.drain();
                    co_await weft::sleep(0.01);
                }
            } catch (const std::exception&) {
                // the server aborted the connection
            }
        }(writer));
        co_await weft::sleep(0.05);
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_FALSE(co_await srv.shutdown(0.3));
        double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        EXPECT_GE(took, 0.29);
        EXPECT_LT(took, 2.0);
        EXPECT_THROW(co_await srv.shutdown(-1), std::invalid_argument);
        chatter.cancel();
        try {
            co_await chatter;
        } catch (const weft::cancelled_error&) {
        }
        writer.abort();
        co_await weft::wait_for(srv.wait_closed(), 5.0);
    }());
}

TEST_P(Faults, CancellingServeForeverClosesTheServer) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(echo_lines, "127.0.0.1", 0);
        auto forever = weft::create_task(srv.serve_forever());
        co_await weft::sleep(0.01);
        forever.cancel();
        EXPECT_THROW(co_await forever, weft::cancelled_error);
        EXPECT_FALSE(srv.is_serving());
    }());
}

TEST_P(Faults, BindingAPortInUseNamesTheAddress) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(echo_lines, "127.0.0.1", 0);
        std::uint16_t port = srv.addresses()[0].port();
        try {
            co_await weft::start_server(echo_lines, "127.0.0.1", port, {.reuse_address = false});
            ADD_FAILURE() << "bound twice";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), std::errc::address_in_use);
            EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)),
                      std::string::npos)
                << e.what();
        }
    }());
}

// ---- 10,000 connections at once

// The client side runs in a child process (each side needs 10,000 fds) and
// makes only raw syscalls: fork()ed from a threaded process it may not
// allocate. It connects every socket, sends a line on each, reads each
// echo, reports "ok" (or a failure) and waits for a byte before closing.
[[noreturn]] void many_clients(int control, std::uint16_t port, int n) {
    static int fds[20000];
    ::fcntl(control, F_SETFL, 0);  // blocking, unlike weft's sockets
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto fail = [&](const char* what) {
        char msg[64] = "fail ";
        std::strncat(msg, what, 40);
        ssize_t r = ::write(control, msg, std::strlen(msg));
        (void)r;
        ::_exit(1);
    };
    for (int i = 0; i < n; ++i) {
        fds[i] = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0) fail("socket");
        if (::connect(fds[i], reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) fail("connect");
    }
    for (int i = 0; i < n; ++i)
        if (::write(fds[i], "ping\n", 5) != 5) fail("write");
    for (int i = 0; i < n; ++i) {
        char buf[5];
        std::size_t got = 0;
        while (got < 5) {
            ssize_t r = ::read(fds[i], buf + got, 5 - got);
            if (r <= 0) fail("read");
            got += static_cast<std::size_t>(r);
        }
        if (std::memcmp(buf, "ping\n", 5) != 0) fail("echo");
    }
    if (::write(control, "ok", 2) != 2) ::_exit(1);
    char go;
    if (::read(control, &go, 1) != 1) ::_exit(1);
    for (int i = 0; i < n; ++i)
        ::close(fds[i]);
    ::_exit(0);
}

TEST_P(Faults, TenThousandSimultaneousConnections) {
    constexpr int n = 10'000;
    rlimit saved{};
    ::getrlimit(RLIMIT_NOFILE, &saved);
    constexpr rlim_t need = n + 200;
    if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < need) {
        GTEST_SKIP() << "needs " << need << " fds per process; the hard limit (ulimit -Hn) is "
                     << saved.rlim_max;
    }
    rlimit raised = saved;
    if (raised.rlim_cur != RLIM_INFINITY && raised.rlim_cur < need) raised.rlim_cur = need;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);
    struct restore {
        rlimit r;
        ~restore() { ::setrlimit(RLIMIT_NOFILE, &r); }
    } guard{saved};

    run([]() -> weft::task<void> {
        weft::server srv =
            co_await weft::start_server(echo_lines, "127.0.0.1", 0, {.backlog = 4096});
        std::uint16_t port = srv.addresses()[0].port();
        auto [ours, theirs] = weft::socketpair();
        pid_t pid = ::fork();
        if (pid == 0) many_clients(theirs.fd(), port, n);
        theirs.close();
        std::string report = co_await weft::wait_for(weft::sock_recv(ours, 64), 60.0);
        EXPECT_EQ(report, "ok");
        EXPECT_EQ(srv.active_connections(), static_cast<std::size_t>(n));
        co_await weft::sock_sendall(ours, "g");
        int status = 0;
        while (::waitpid(pid, &status, WNOHANG) == 0)
            co_await weft::sleep(0.01);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        for (int i = 0; i < 1000 && srv.active_connections() > 0; ++i)
            co_await weft::sleep(0.01);
        EXPECT_EQ(srv.active_connections(), 0u);
    }());
}

}  // namespace
