// weft::io under Go mode's concurrency (runs under ThreadSanitizer in CI):
// readiness, cancellation and closing race on the same fd from different
// workers, and none of them may lose a wake-up (the test would hang), lose
// or duplicate data, or touch a closed fd.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

constexpr int workers = 4;

// Many connections at once, each a chain of request/response round trips:
// wake-ups cross workers (a connection is polled by one worker, its task
// may be stolen by another) and every byte must come back in order.
TEST(IoStress, EchoRoundTripsAcrossWorkers) {
    constexpr int clients = 40;
    constexpr int rounds = 200;
    std::atomic<int> done{0};
    weft::run(
        [&]() -> weft::task<void> {
            weft::server srv = co_await weft::start_server(
                [](weft::stream_reader r, weft::stream_writer w) -> weft::task<void> {
                    for (;;) {
                        std::string line = co_await r.readline();
                        if (line.empty()) co_return;
                        w.write(line);
                        co_await w.drain();
                    }
                },
                "127.0.0.1", 0);
            std::uint16_t port = srv.addresses()[0].port();
            std::vector<weft::task_handle<void>> cs;
            for (int c = 0; c < clients; ++c) {
                cs.push_back(weft::create_task(
                    [](std::uint16_t p, int id, std::atomic<int>* ok) -> weft::task<void> {
                        auto [reader, writer] = co_await weft::open_connection("127.0.0.1", p);
                        for (int i = 0; i < rounds; ++i) {
                            std::string msg = std::to_string(id) + ":" + std::to_string(i) + "\n";
                            writer.write(msg);
                            co_await writer.drain();
                            std::string got = co_await reader.readline();
                            if (got != msg) {
                                ADD_FAILURE() << "client " << id << " got '" << got << "' for '"
                                              << msg << "'";
                                co_return;
                            }
                        }
                        ok->fetch_add(1);
                    }(port, c, &done)));
            }
            for (auto& h : cs)
                co_await h;
        }(),
        {.threads = workers});
    EXPECT_EQ(done.load(), clients);
}

// A read pending on one worker while another closes the socket: the read
// raises closed_error (or returns data that came first); never hangs.
TEST(IoStress, CloseRacesPendingReads) {
    std::atomic<int> raised{0};
    weft::run(
        [&]() -> weft::task<void> {
            for (int i = 0; i < 300; ++i) {
                auto [a, b] = weft::socketpair();
                auto reader = weft::create_task(weft::sock_recv(b, 16));
                if (i % 3 == 0) co_await weft::yield_now();
                if (i % 5 == 0) co_await weft::sock_sendall(a, "x");
                auto closer = weft::create_task([](weft::socket& s) -> weft::task<void> {
                    s.close();
                    co_return;
                }(b));
                co_await closer;
                try {
                    std::string got = co_await reader;
                    EXPECT_TRUE(got == "x" || got.empty()) << got;
                } catch (const weft::closed_error&) {
                    raised.fetch_add(1);
                }
            }
        }(),
        {.threads = workers});
    EXPECT_GT(raised.load(), 0);
}

// Timeouts racing the data's arrival: a cancelled wait never consumes
// data, so every byte sent is received exactly once.
TEST(IoStress, CancelRacesReadiness) {
    constexpr std::size_t total = 200'000;
    std::size_t received = 0, timeouts = 0;
    weft::run(
        [&]() -> weft::task<void> {
            auto [a, b] = weft::socketpair();
            auto sender = weft::create_task([](weft::socket& s) -> weft::task<void> {
                std::string chunk(1000, 's');
                for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
                    co_await weft::sock_sendall(s, chunk);
                    if (sent % 7000 == 0) co_await weft::sleep(0.0001);
                }
            }(a));
            char buf[4096];
            while (received < total) {
                try {
                    received += co_await weft::wait_for(weft::sock_recv_into(b, buf), 0.00005);
                } catch (const weft::timeout_error&) {
                    ++timeouts;
                }
            }
            co_await sender;
        }(),
        {.threads = workers});
    EXPECT_EQ(received, total);
}

// The fds open in this process (to see that closing a stream whose
// requests are in flight closes its socket).
std::size_t open_fd_count() {
    std::size_t n = 0;
    for (int fd = 0; fd < 4096; ++fd)
        if (::fcntl(fd, F_GETFD) >= 0) ++n;
    return n;
}

std::size_t settled_fd_count(std::size_t expected) {
    // An fd closed by another worker a moment ago may still be on its way.
    std::size_t n = open_fd_count();
    for (int i = 0; i < 200 && n != expected; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        n = open_fd_count();
    }
    return n;
}

// The streams' versions of the races above, where on io_uring a read is a
// recv request in the ring and a write a send request, completed on the
// ring's worker while the reader, the writer and the closer run anywhere:
// a stream closed while its read waits raises closed_error in that read
// (or returns what came first), and its socket is closed, never left open
// by the request in flight.
TEST(IoStress, StreamCloseRacesPendingReads) {
    std::atomic<int> raised{0};
    const std::size_t fds_before = open_fd_count();
    weft::run(
        [&]() -> weft::task<void> {
            for (int i = 0; i < 300; ++i) {
                auto [a, b] = weft::socketpair();
                auto [reader, writer] = weft::open_stream(std::move(b));
                auto pending = weft::create_task(reader.read(16));
                if (i % 3 == 0) co_await weft::yield_now();
                if (i % 5 == 0) co_await weft::sock_sendall(a, "x");
                auto closer = weft::create_task([](weft::stream_writer& w) -> weft::task<void> {
                    w.close();
                    co_return;
                }(writer));
                co_await closer;
                try {
                    std::string got = co_await pending;
                    EXPECT_TRUE(got == "x" || got.empty()) << got;
                } catch (const weft::closed_error&) {
                    raised.fetch_add(1);
                }
                co_await writer.wait_closed();
                // The peer sees the end of the stream (a reset when "x" was
                // left unread): the socket is closed.
                std::string tail;
                try {
                    tail = co_await weft::wait_for(weft::sock_recv(a, 16), 5.0);
                } catch (const weft::connection_error&) {
                }
                EXPECT_EQ(tail, "");
            }
        }(),
        {.threads = workers});
    EXPECT_GT(raised.load(), 0);
    EXPECT_EQ(settled_fd_count(fds_before), fds_before);
}

// Timeouts racing the arrival of a stream's bytes, written by a stream on
// another worker: every byte comes exactly once and in order.
TEST(IoStress, StreamCancelRacesArrival) {
    constexpr int pieces = 20'000;
    std::string received;
    std::size_t timeouts = 0;
    weft::run(
        [&]() -> weft::task<void> {
            auto [a, b] = weft::socketpair();
            auto [ra, wa] = weft::open_stream(std::move(a));
            auto [rb, wb] = weft::open_stream(std::move(b));
            auto sender = weft::create_task([](weft::stream_writer& w) -> weft::task<void> {
                for (int i = 0; i < pieces; ++i) {
                    w.write(std::to_string(i) + ";");
                    if (i % 50 == 0) co_await w.drain();
                    if (i % 700 == 0) co_await weft::sleep(0.0001);
                }
                co_await w.drain();
                w.write_eof();
            }(wa));
            for (;;) {
                try {
                    std::string got = co_await weft::wait_for(rb.read(1000), 0.00005);
                    if (got.empty()) break;
                    received += got;
                } catch (const weft::timeout_error&) {
                    ++timeouts;
                }
            }
            co_await sender;
        }(),
        {.threads = workers});
    std::string expected;
    for (int i = 0; i < pieces; ++i)
        expected += std::to_string(i) + ";";
    EXPECT_EQ(received.size(), expected.size());
    EXPECT_TRUE(received == expected) << "bytes lost, doubled or reordered";
}

// abort() on one worker while a stream's sends are queued and in flight
// on another: the writer's later calls raise, nothing crashes, the peer
// gets a prefix of what was written, and the socket is closed.
TEST(IoStress, StreamAbortRacesSends) {
    const std::size_t fds_before = open_fd_count();
    weft::run(
        [&]() -> weft::task<void> {
            for (int i = 0; i < 100; ++i) {
                auto [a, b] = weft::socketpair();
                auto [reader, writer] = weft::open_stream(std::move(b));
                std::string sent;
                for (int k = 0; k < 50; ++k) {
                    std::string piece = std::to_string(k) + std::string(1 + (k * 37) % 3000, '.');
                    writer.write(piece);
                    sent += piece;
                }
                auto aborter =
                    weft::create_task([](weft::stream_writer& w, int n) -> weft::task<void> {
                        if (n % 2 == 0) co_await weft::yield_now();
                        w.abort();
                        co_return;
                    }(writer, i));
                std::string got;
                for (;;) {
                    std::string more;
                    try {
                        more = co_await weft::wait_for(weft::sock_recv(a, 65536), 5.0);
                    } catch (const weft::connection_error&) {
                        break;  // the abort reset the connection
                    }
                    if (more.empty()) break;
                    got += more;
                }
                co_await aborter;
                EXPECT_EQ(sent.compare(0, got.size(), got), 0)
                    << "not a prefix of what was written";
                EXPECT_THROW(writer.write("late"), std::exception);
            }
        }(),
        {.threads = workers});
    EXPECT_EQ(settled_fd_count(fds_before), fds_before);
}

// One client of ServerCloseRacesConnects: a line, and its echo, or a
// connection refused or ended.
weft::task<void> ping_once(std::uint16_t port, std::atomic<int>& echoed,
                           std::atomic<int>& turned_away) {
    try {
        auto [r, w] = co_await weft::wait_for(weft::open_connection("127.0.0.1", port), 5.0);
        w.write("ping\n");
        std::string got = co_await weft::wait_for(r.readline(), 5.0);
        if (got == "ping\n") {
            echoed.fetch_add(1);
        } else {
            EXPECT_EQ(got, "") << "a partial echo";
            turned_away.fetch_add(1);
        }
        w.close();
        co_await w.wait_closed();
    } catch (const weft::connection_error&) {
        turned_away.fetch_add(1);  // refused, or reset at the close
    }
}

// A server closed while clients connect, on every worker: on io_uring the
// accept loop's accept is a request in the ring, which the close must end
// (the listener stops listening at once), and a connection's close is a
// request too. Each client gets its echo, is refused, or sees its
// connection end; none hangs, and every fd is closed afterwards.
TEST(IoStress, ServerCloseRacesConnects) {
    const std::size_t fds_before = open_fd_count();
    std::atomic<int> echoed{0};
    std::atomic<int> turned_away{0};
    weft::run(
        [&]() -> weft::task<void> {
            auto echo = [](weft::stream_reader r, weft::stream_writer w) -> weft::task<void> {
                w.write(co_await r.readline());
                co_await w.drain();
                w.close();
                co_await w.wait_closed();
            };
            for (int round = 0; round < 40; ++round) {
                weft::server srv = co_await weft::start_server(echo, "127.0.0.1", 0);
                std::uint16_t port = srv.addresses()[0].port();
                std::vector<weft::task_handle<void>> clients;
                for (int c = 0; c < 8; ++c) {
                    clients.push_back(weft::create_task(ping_once(port, echoed, turned_away)));
                }
                for (int k = 0; k < round % 4; ++k)
                    co_await weft::yield_now();
                srv.close();
                for (auto& c : clients)
                    co_await c;
                co_await srv.wait_closed();
            }
        }(),
        {.threads = workers});
    EXPECT_EQ(echoed.load() + turned_away.load(), 40 * 8);
    EXPECT_EQ(settled_fd_count(fds_before), fds_before);
}

// Connects timed out just as they complete (on io_uring a connect request
// cancelled in the ring, racing its completion): each either connects or
// times out, the socket is closed either way, and the server keeps
// serving.
TEST(IoStress, ConnectTimeoutRacesCompletion) {
    const std::size_t fds_before = open_fd_count();
    int connected = 0;
    int timed_out = 0;
    weft::run(
        [&]() -> weft::task<void> {
            auto greet = [](weft::stream_reader, weft::stream_writer w) -> weft::task<void> {
                w.write("hi\n");
                co_await w.drain();
                w.close();
                co_await w.wait_closed();
            };
            weft::server srv = co_await weft::start_server(greet, "127.0.0.1", 0);
            std::uint16_t port = srv.addresses()[0].port();
            for (int i = 0; i < 400; ++i) {
                try {
                    auto [r, w] = co_await weft::wait_for(weft::open_connection("127.0.0.1", port),
                                                          0.00002 * (i % 8));
                    ++connected;
                    std::string line = co_await weft::wait_for(r.readline(), 5.0);
                    EXPECT_EQ(line, "hi\n");
                    w.close();
                    co_await w.wait_closed();
                } catch (const weft::timeout_error&) {
                    ++timed_out;
                }
            }
            auto [r, w] = co_await weft::open_connection("127.0.0.1", port);
            std::string line = co_await weft::wait_for(r.readline(), 5.0);
            EXPECT_EQ(line, "hi\n");
            w.close();
            co_await w.wait_closed();
            srv.close();
            co_await srv.wait_closed();
        }(),
        {.threads = workers});
    EXPECT_EQ(connected + timed_out, 400);
    EXPECT_GT(connected, 0);
    EXPECT_EQ(settled_fd_count(fds_before), fds_before);
}

// Subprocesses started and reaped from every worker at once.
TEST(IoStress, ManySubprocessesAtOnce) {
    int ok = 0;
    weft::run(
        [&]() -> weft::task<void> {
            std::vector<weft::task_handle<int>> ps;
            for (int i = 0; i < 24; ++i) {
                ps.push_back(weft::create_task([](int n) -> weft::task<int> {
                    std::vector<std::string> argv{"sh", "-c", "echo $0; exit $0",
                                                  std::to_string(n % 5)};
                    weft::process p =
                        co_await weft::create_subprocess_exec(argv, {.std_out = weft::stdio::pipe});
                    auto [out, err] = co_await p.communicate();
                    int code = co_await p.wait();
                    co_return out == std::to_string(n % 5) + "\n" && code == n % 5 ? 1 : 0;
                }(i)));
            }
            for (auto& h : ps)
                ok += co_await h;
        }(),
        {.threads = workers});
    EXPECT_EQ(ok, 24);
}

}  // namespace
