// weft::io under Go mode's concurrency (runs under ThreadSanitizer in CI):
// readiness, cancellation and closing race on the same fd from different
// workers, and none of them may lose a wake-up (the test would hang), lose
// or duplicate data, or touch a closed fd.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

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
