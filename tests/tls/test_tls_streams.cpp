// TLS streams: open_connection / start_server with `ssl`, weft against
// weft, against `openssl s_server`, `openssl s_client` and curl; every
// refusal raising an error that names the problem with nothing left open;
// close_notify; cancellation; many connections at once. Each test runs in
// asyncio mode (1 thread) and Go mode (2 workers) and checks for leaked fds.
// The certificates come from the tls.make_certs fixture (make_certs.sh).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <malloc.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <weft/detail/config.hpp>
#include <weft/tls/ssl_context.hpp>
#if WEFT_SANITIZED
// The sanitizers' allocator's count (GCC 12 ships no header declaring it;
// its runtimes define it, as clang's do).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

#include "../io/io_test.hpp"

namespace {

using weft_io_test::io_modes;
using weft_io_test::reports;

std::string cert(const std::string& name) {
    return std::string(WEFT_TLS_CERT_DIR) + "/" + name;
}

weft::ssl_context server_ctx(const std::string& name = "localhost") {
    auto c = weft::ssl_context::create_default(weft::ssl_purpose::client_auth);
    c.load_cert_chain(cert(name + ".pem"), cert(name + ".key"));
    return c;
}

weft::ssl_context client_ctx() {
    auto c = weft::ssl_context::create_default();
    c.load_verify_locations(cert("ca.pem"));
    return c;
}

class Tls : public io_modes {
protected:
    void SetUp() override {
        if (!std::filesystem::exists(cert("ca.pem"))) {
            GTEST_SKIP() << "no test certificates in " << WEFT_TLS_CERT_DIR
                         << " (made by the tls.make_certs test, which needs the openssl command)";
        }
        io_modes::SetUp();
    }
};
WEFT_IO_MODES(Tls);

// Waits (up to 5 s) until `pred` holds.
template <class Pred>
weft::task<bool> eventually(Pred pred) {
    for (int i = 0; i < 500; ++i) {
        if (pred()) co_return true;
        co_await weft::sleep(0.01);
    }
    co_return pred();
}

weft::task<void> echo(weft::stream_reader reader, weft::stream_writer writer) {
    for (;;) {
        std::string chunk = co_await reader.read(64 * 1024);
        if (chunk.empty()) break;
        writer.write(chunk);
        co_await writer.drain();
    }
    writer.close();
    co_await writer.wait_closed();
}

// A message of `n` bytes that differs per connection and per message.
std::string pattern(std::size_t n, std::size_t seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>('a' + (i * 7 + seed * 13) % 26);
    s.back() = '\n';
    return s;
}

// ---- weft against weft

weft::task<void> echo_round_trip(bool tls12) {
    auto sctx = server_ctx();
    sctx.set_alpn_protocols({"h2", "echo/1"});
    weft::server srv = co_await weft::start_server(echo, "127.0.0.1", 0, {.ssl = &sctx});
    std::uint16_t port = srv.addresses()[0].port();

    auto cctx = client_ctx();
    cctx.set_alpn_protocols({"echo/1", "http/1.1"});
    if (tls12) cctx.set_maximum_version(weft::tls_version::tls1_2);
    auto [reader, writer] =
        co_await weft::open_connection("localhost", port, {.family = AF_INET, .ssl = &cctx});
    EXPECT_EQ(writer.selected_alpn_protocol(), "echo/1");
    EXPECT_EQ(writer.tls_version(), tls12 ? "TLSv1.2" : "TLSv1.3");
    EXPECT_EQ(writer.peername().port(), port);
    EXPECT_FALSE(writer.can_write_eof());

    writer.write("hello\n");
    EXPECT_EQ(co_await reader.readline(), "hello\n");
    // Far more than the high water mark, in both directions at once: the
    // ciphertext queue drives drain() as a plain stream's does.
    std::string big = pattern(3 * 1024 * 1024 + 17, 1);
    auto reading = weft::create_task(reader.readexactly(big.size()));
    writer.write(big);
    co_await writer.drain();
    EXPECT_TRUE((co_await reading) == big);

    writer.close();  // close_notify: the server's read sees the end
    co_await writer.wait_closed();
    co_await eventually([&] { return srv.active_connections() == 0; });
    EXPECT_EQ(srv.active_connections(), 0u);
    srv.close();
    co_await srv.wait_closed();
}

TEST_P(Tls, EchoWeftToWeftTls13) {
    run(echo_round_trip(false));
}

TEST_P(Tls, EchoWeftToWeftTls12) {
    run(echo_round_trip(true));
}

TEST_P(Tls, CleanCloseIsEndOfStreamAbortIsEofError) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        weft::server srv = co_await weft::start_server(
            [](weft::stream_reader reader, weft::stream_writer writer) -> weft::task<void> {
                std::string how = co_await reader.readline();
                writer.write("bye\n");
                co_await writer.drain();
                if (how == "clean\n") {
                    writer.close();  // close_notify, then the FIN
                } else {
                    writer.abort();  // the FIN alone: a truncation attack looks like this
                }
            },
            "127.0.0.1", 0, {.ssl = &sctx});
        std::uint16_t port = srv.addresses()[0].port();
        auto cctx = client_ctx();
        {
            auto [reader, writer] =
                co_await weft::open_connection("localhost", port, {.ssl = &cctx});
            writer.write("clean\n");
            EXPECT_EQ(co_await reader.read(), "bye\n");  // everything up to close_notify
            EXPECT_TRUE(reader.at_eof());
        }
        {
            auto [reader, writer] =
                co_await weft::open_connection("localhost", port, {.ssl = &cctx});
            writer.write("abort\n");
            EXPECT_EQ(co_await reader.readline(), "bye\n");
            bool raised = false;
            try {
                co_await reader.read();
            } catch (const weft::ssl_eof_error& e) {
                raised = true;
                EXPECT_NE(std::string(e.what()).find("without TLS's close_notify"),
                          std::string::npos)
                    << e.what();
            }
            EXPECT_TRUE(raised) << "a stream cut without close_notify must raise ssl_eof_error";
            // And again: the stream stays failed.
            bool again = false;
            try {
                co_await reader.read(1);
            } catch (const weft::ssl_eof_error&) {
                again = true;
            }
            EXPECT_TRUE(again);
        }
        srv.close();
        co_await srv.wait_closed();
    }());
}

// What a server handler that closes first saw: its wait_closed() returned,
// and how long that took.
std::atomic<bool> first_closer_done{false};
std::atomic<double> first_closer_waited{0};

weft::task<void> close_first(weft::stream_reader, weft::stream_writer writer) {
    auto t0 = std::chrono::steady_clock::now();
    writer.write("bye\n");
    writer.close();  // our close_notify; the client's is awaited
    co_await writer.wait_closed();
    first_closer_waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    first_closer_done = true;
}

// asyncio's SSL shutdown: close() sends close_notify and closes the socket
// only once the peer's has come back (or the peer hung up); the side that
// receives a close_notify answers it at once and closes; a peer that does
// neither is cut off at ssl_shutdown_timeout.
TEST_P(Tls, CloseWaitsForThePeersCloseNotify) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        auto cctx = client_ctx();
        {
            first_closer_done = false;
            weft::server srv =
                co_await weft::start_server(close_first, "127.0.0.1", 0, {.ssl = &sctx});
            auto [reader, writer] = co_await weft::open_connection(
                "localhost", srv.addresses()[0].port(), {.ssl = &cctx});
            co_await weft::sleep(0.2);  // not reading: the close_notify waits unseen
            EXPECT_FALSE(first_closer_done.load())
                << "the server closed without waiting for the client's close_notify";
            EXPECT_FALSE(writer.is_closing());
            EXPECT_EQ(co_await reader.read(), "bye\n");  // up to the server's close_notify
            EXPECT_TRUE(reader.at_eof());
            // Answered and closing: no writing after the peer's close_notify.
            EXPECT_TRUE(writer.is_closing());
            EXPECT_THROW(writer.write("late"), weft::closed_error);
            co_await writer.wait_closed();
            EXPECT_TRUE(co_await eventually([] { return first_closer_done.load(); }));
            EXPECT_LT(first_closer_waited.load(), 5.0);
            srv.close();
            co_await srv.wait_closed();
        }
        {
            // A client that neither reads nor hangs up.
            first_closer_done = false;
            weft::server srv = co_await weft::start_server(
                close_first, "127.0.0.1", 0, {.ssl = &sctx, .ssl_shutdown_timeout = 0.3});
            auto [reader, writer] = co_await weft::open_connection(
                "localhost", srv.addresses()[0].port(), {.ssl = &cctx});
            EXPECT_TRUE(co_await eventually([] { return first_closer_done.load(); }));
            EXPECT_GE(first_closer_waited.load(), 0.25);
            EXPECT_LT(first_closer_waited.load(), 3.0);
            writer.abort();
            srv.close();
            co_await srv.wait_closed();
            (void)reader;
        }
    }());
}

TEST_P(Tls, WriteEofIsRefused) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        weft::server srv = co_await weft::start_server(echo, "127.0.0.1", 0, {.ssl = &sctx});
        auto cctx = client_ctx();
        auto [reader, writer] =
            co_await weft::open_connection("localhost", srv.addresses()[0].port(), {.ssl = &cctx});
        EXPECT_THROW(writer.write_eof(), std::logic_error);
        writer.write("still usable\n");
        EXPECT_EQ(co_await reader.readline(), "still usable\n");
        writer.close();
        co_await writer.wait_closed();
        EXPECT_THROW(writer.write("x"), weft::closed_error);
        srv.close();
        co_await srv.wait_closed();
    }());
}

// A TLS 1.3 server holds the session tickets it writes as the handshake
// ends and sends them with its first reply, one send fewer per connection;
// a server that waits to read first sends them before it waits, so a
// client never waits for them.
std::atomic<int> client_tickets{0};

weft::ssl_context counting_client_ctx() {
    auto c = client_ctx();
    SSL_CTX_set_session_cache_mode(c.native_handle(), SSL_SESS_CACHE_CLIENT);
    SSL_CTX_sess_set_new_cb(c.native_handle(), [](SSL*, SSL_SESSION*) {
        ++client_tickets;
        return 0;  // not kept
    });
    return c;
}

TEST_P(Tls, SessionTicketsGoOutWithTheFirstReply) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        sctx.set_num_tickets(2);
        weft::server srv = co_await weft::start_server(
            [](weft::stream_reader, weft::stream_writer writer) -> weft::task<void> {
                writer.write("hello\n");
                co_await writer.drain();
                writer.close();
                co_await writer.wait_closed();
            },
            "127.0.0.1", 0, {.ssl = &sctx});
        auto cctx = counting_client_ctx();
        client_tickets = 0;
        auto [reader, writer] =
            co_await weft::open_connection("localhost", srv.addresses()[0].port(), {.ssl = &cctx});
        EXPECT_EQ(co_await reader.readline(), "hello\n");
        EXPECT_EQ(client_tickets.load(), 2);  // they came before the reply
        EXPECT_EQ(co_await reader.read(), "");
        writer.close();
        co_await writer.wait_closed();
        srv.close();
        co_await srv.wait_closed();
    }());
}

TEST_P(Tls, SessionTicketsReachAClientWhileTheServerWaitsToRead) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        sctx.set_num_tickets(1);
        weft::server srv = co_await weft::start_server(echo, "127.0.0.1", 0, {.ssl = &sctx});
        auto cctx = counting_client_ctx();
        client_tickets = 0;
        auto [reader, writer] =
            co_await weft::open_connection("localhost", srv.addresses()[0].port(), {.ssl = &cctx});
        // The server's handler waits for data; so does the client's read,
        // which takes the ticket in meanwhile.
        auto reading = weft::create_task(reader.readline());
        EXPECT_TRUE(co_await eventually([] { return client_tickets.load() == 1; }));
        writer.write("ping\n");
        EXPECT_EQ(co_await reading, "ping\n");
        EXPECT_EQ(client_tickets.load(), 1);
        writer.close();
        co_await writer.wait_closed();
        srv.close();
        co_await srv.wait_closed();
    }());
}

// close() on a connection whose peer reads nothing: the queue (and
// close_notify behind it) cannot go out, and ssl_shutdown_timeout ends it.
TEST_P(Tls, ShutdownTimeoutAbortsAPeerThatDoesNotRead) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        std::atomic<bool> closed{false};
        weft::server srv = co_await weft::start_server(
            [&closed](weft::stream_reader, weft::stream_writer writer) -> weft::task<void> {
                writer.write(std::string(16 * 1024 * 1024, 'x'));  // far more than the socket takes
                writer.close();
                try {
                    co_await writer.wait_closed();
                } catch (const std::exception&) {
                }
                closed = true;
            },
            "127.0.0.1", 0, {.ssl = &sctx, .ssl_shutdown_timeout = 0.3});
        auto cctx = client_ctx();
        auto [reader, writer] =
            co_await weft::open_connection("127.0.0.1", srv.addresses()[0].port(), {.ssl = &cctx});
        // Not reading: the server's close can only end by its timeout.
        EXPECT_TRUE(co_await eventually([&] { return closed.load(); }));
        writer.abort();
        co_await eventually([&] { return srv.active_connections() == 0; });
        EXPECT_EQ(srv.active_connections(), 0u);
        srv.close();
        co_await srv.wait_closed();
    }());
}

// A read cancelled while it waits (by a timeout here) loses nothing: the
// bytes decrypted before or after are all read, in order.
TEST_P(Tls, CancelledReadsLoseNoBytes) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        weft::server srv = co_await weft::start_server(
            [](weft::stream_reader, weft::stream_writer writer) -> weft::task<void> {
                for (int i = 0; i < 40; ++i) {
                    writer.write(pattern(1000 + i * 97, i));
                    co_await writer.drain();
                    co_await weft::sleep(0.003);
                }
                writer.close();
                co_await writer.wait_closed();
            },
            "127.0.0.1", 0, {.ssl = &sctx});
        auto cctx = client_ctx();
        auto [reader, writer] =
            co_await weft::open_connection("localhost", srv.addresses()[0].port(), {.ssl = &cctx});
        std::string expected, got;
        for (int i = 0; i < 40; ++i)
            expected += pattern(1000 + i * 97, i);
        int timeouts = 0;
        while (got.size() < expected.size()) {
            try {
                // Shorter than the server's pauses: many of these time out.
                got += co_await weft::wait_for(reader.readexactly(700), 0.001);
            } catch (const weft::timeout_error&) {
                ++timeouts;
            } catch (const weft::incomplete_read_error& e) {
                got += e.partial();
                break;
            }
        }
        EXPECT_TRUE(got == expected) << got.size() << " bytes of " << expected.size();
        EXPECT_GT(timeouts, 0);
        srv.close();
        co_await srv.wait_closed();
    }());
}

weft::task<void> echo_client(std::uint16_t port, const weft::ssl_context* ctx, std::size_t id,
                             std::atomic<int>* ok) {
    auto [reader, writer] = co_await weft::open_connection(
        "127.0.0.1", port, {.ssl = ctx, .server_hostname = "localhost"});
    bool all = true;
    for (std::size_t m = 0; m < 3; ++m) {
        std::string msg = pattern(16 + (id * 131 + m * 4099) % 8000, id + m);
        writer.write(msg);
        co_await writer.drain();
        std::string back = co_await reader.readexactly(msg.size());
        if (back != msg) all = false;
    }
    writer.close();
    co_await writer.wait_closed();
    if (all) ok->fetch_add(1);
}

// Bytes the heap has handed out and not had back (the sanitizers' own
// allocator replaces malloc's under ASan and TSan).
std::size_t heap_in_use() {
#if WEFT_SANITIZED
    return __sanitizer_get_current_allocated_bytes();
#else
    return ::mallinfo2().uordblks;
#endif
}

// `n` clients at once against `port`, each echoing messages of several
// sizes; how many got every byte back.
weft::task<int> echo_round(std::uint16_t port, const weft::ssl_context* ctx, std::size_t n) {
    std::atomic<int> ok{0};
    std::vector<weft::task_handle<void>> clients;
    clients.reserve(n);
    for (std::size_t c = 0; c < n; ++c)
        clients.push_back(weft::create_task(echo_client(port, ctx, c, &ok)));
    for (auto& h : clients)
        co_await h;
    co_return ok.load();
}

// 1,000 TLS connections at once, each echoing messages of several sizes:
// every byte checked. Then they all leave, and what they held goes with
// them: the fixture checks the fds; here the heap, measured after a first
// round has grown the pools and caches to what 1,000 connections need, must
// be back to that level after a second round (a connection's TLS state alone
// is some 50 KB, so a leak of one each would show as tens of MB).
TEST_P(Tls, AThousandConcurrentConnectionsLeaveNothingBehind) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        weft::server srv =
            co_await weft::start_server(echo, "127.0.0.1", 0, {.backlog = 1024, .ssl = &sctx});
        std::uint16_t port = srv.addresses()[0].port();
        auto cctx = client_ctx();
        constexpr std::size_t n = 1000;
        EXPECT_EQ(co_await echo_round(port, &cctx, n), static_cast<int>(n));
        co_await eventually([&] { return srv.active_connections() == 0; });
        EXPECT_EQ(srv.active_connections(), 0u);
        std::size_t baseline = heap_in_use();

        EXPECT_EQ(co_await echo_round(port, &cctx, n), static_cast<int>(n));
        co_await eventually([&] { return srv.active_connections() == 0; });
        EXPECT_EQ(srv.active_connections(), 0u);
        // A handler has ended when the count drops, but its transport's last
        // callbacks may still be running on a worker (closing the socket,
        // freeing the SSL object): give them time; a leak never comes back.
        constexpr std::size_t slack = 4u << 20;  // allocator and scheduler noise
        co_await eventually([&] { return heap_in_use() < baseline + slack; });
        std::size_t after = heap_in_use();
        EXPECT_LT(after, baseline + slack)
            << "the heap grew by " << (after - baseline) / 1024 << " KiB over " << n
            << " connections that have all closed";
        srv.close();
        co_await srv.wait_closed();
    }());
}

// ---- refusals: the client's

weft::task<void> expect_refused(std::string server_cert, std::string host, std::string reason) {
    reports r;
    r.install();
    auto sctx = server_ctx(server_cert);
    weft::server srv = co_await weft::start_server(echo, "127.0.0.1", 0, {.ssl = &sctx});
    auto cctx = client_ctx();
    bool raised = false;
    try {
        co_await weft::open_connection("127.0.0.1", srv.addresses()[0].port(),
                                       {.ssl = &cctx, .server_hostname = host});
    } catch (const weft::ssl_certificate_error& e) {
        raised = true;
        std::string what = e.what();
        EXPECT_NE(what.find("certificate verify failed: " + reason), std::string::npos) << what;
        EXPECT_NE(what.find("weft::open_connection"), std::string::npos) << what;
        EXPECT_NE(e.verify_code(), 0);  // X509_V_OK is 0
    }
    EXPECT_TRUE(raised) << "expected a refusal: " << reason;
    // The server saw the client's alert: reported, the handler never ran.
    co_await eventually([&] { return r.all().find("TLS handshake failed") != std::string::npos; });
    EXPECT_NE(r.all().find("TLS handshake failed"), std::string::npos) << r.all();
    // In Go mode the report can come before the connection leaves the count.
    co_await eventually([&] { return srv.active_connections() == 0; });
    EXPECT_EQ(srv.active_connections(), 0u);
    srv.close();
    co_await srv.wait_closed();
}

TEST_P(Tls, UnknownCaIsRefused) {
    run(expect_refused("stranger", "localhost", "unable to get local issuer certificate"));
}

TEST_P(Tls, HostnameMismatchIsRefused) {
    run(expect_refused("other_host", "localhost", "hostname mismatch"));
}

TEST_P(Tls, ExpiredCertificateIsRefused) {
    run(expect_refused("expired", "localhost", "certificate has expired"));
}

TEST_P(Tls, IpAddressIsCheckedAgainstTheCertificate) {
    run([]() -> weft::task<void> {
        // localhost.pem names 127.0.0.1 too: the default server_hostname,
        // open_connection's host, is checked as an address.
        auto sctx = server_ctx();
        weft::server srv = co_await weft::start_server(echo, "127.0.0.1", 0, {.ssl = &sctx});
        auto cctx = client_ctx();
        auto [reader, writer] =
            co_await weft::open_connection("127.0.0.1", srv.addresses()[0].port(), {.ssl = &cctx});
        writer.write("ip\n");
        EXPECT_EQ(co_await reader.readline(), "ip\n");
        writer.close();
        co_await writer.wait_closed();
        srv.close();
        co_await srv.wait_closed();
    }());
}

// Client certificates: a server that requires one verifies it against its
// CA; a client without one gets through its own handshake (TLS 1.3 checks
// the client after the client has finished) and then reads the server's
// alert as an ssl_error naming it.
TEST_P(Tls, ClientCertificateRequiredByTheServer) {
    run([]() -> weft::task<void> {
        reports r;
        r.install();
        auto sctx = server_ctx();
        sctx.load_verify_locations(cert("ca.pem"));
        sctx.set_verify_mode(weft::ssl_verify::required);
        weft::server srv = co_await weft::start_server(echo, "127.0.0.1", 0, {.ssl = &sctx});
        std::uint16_t port = srv.addresses()[0].port();
        {
            auto cctx = client_ctx();
            cctx.load_cert_chain(cert("localhost.pem"), cert("localhost.key"));
            auto [reader, writer] =
                co_await weft::open_connection("localhost", port, {.ssl = &cctx});
            writer.write("with a certificate\n");
            EXPECT_EQ(co_await reader.readline(), "with a certificate\n");
            writer.close();
            co_await writer.wait_closed();
        }
        {
            auto cctx = client_ctx();
            auto [reader, writer] =
                co_await weft::open_connection("localhost", port, {.ssl = &cctx});
            // Nothing written first: unread bytes would make the server's
            // close a reset, which could overtake its alert.
            bool refused = false;
            try {
                co_await weft::wait_for(reader.read(), 10.0);
            } catch (const weft::ssl_error& e) {
                refused = std::string(e.what()).find("certificate required") != std::string::npos;
                EXPECT_TRUE(refused) << e.what();
            }
            EXPECT_TRUE(refused);
            // The connection is broken for writes too.
            EXPECT_THROW(writer.write("after the alert\n"), weft::ssl_error);
        }
        co_await eventually(
            [&] { return r.all().find("TLS handshake failed") != std::string::npos; });
        EXPECT_NE(r.all().find("peer did not return a certificate"), std::string::npos) << r.all();
        co_await eventually([&] { return srv.active_connections() == 0; });
        srv.close();
        co_await srv.wait_closed();
    }());
}

// ---- refusals: the server's

// A raw TCP peer of a TLS server: connects, sends `send`, then either
// closes or reads until the server drops it (EOF or a reset: either way the
// connection is gone).
weft::task<void> raw_peer(std::uint16_t port, std::string send, bool close_after) {
    auto [reader, writer] = co_await weft::open_connection("127.0.0.1", port);
    if (!send.empty()) {
        writer.write(send);
        co_await writer.drain();
    }
    if (close_after) {
        writer.close();
        co_await writer.wait_closed();
        co_return;
    }
    try {
        // Not `while (!(co_await ...).empty())`: see docs/io.md, "GCC 12".
        for (;;) {
            std::string chunk = co_await reader.read(4096);
            if (chunk.empty()) break;
        }
    } catch (const weft::connection_error&) {
    }
    writer.close();
}

weft::task<void> expect_server_refusal(std::string send, bool close_after, double timeout,
                                       std::string reason) {
    reports r;
    r.install();
    auto sctx = server_ctx();
    std::atomic<int> handled{0};
    weft::server srv = co_await weft::start_server(
        [&handled](weft::stream_reader, weft::stream_writer) -> weft::task<void> {
            handled.fetch_add(1);
            co_return;
        },
        "127.0.0.1", 0, {.ssl = &sctx, .ssl_handshake_timeout = timeout});
    co_await weft::wait_for(raw_peer(srv.addresses()[0].port(), send, close_after), 10.0);
    co_await eventually([&] { return r.all().find(reason) != std::string::npos; });
    EXPECT_NE(r.all().find("TLS handshake failed with 127.0.0.1:"), std::string::npos) << r.all();
    EXPECT_NE(r.all().find(reason), std::string::npos) << r.all();
    EXPECT_EQ(handled.load(), 0);
    co_await eventually([&] { return srv.active_connections() == 0; });
    EXPECT_EQ(srv.active_connections(), 0u);
    srv.close();
    co_await srv.wait_closed();
}

TEST_P(Tls, PlaintextInsteadOfClientHelloIsRefused) {
    // OpenSSL recognises an HTTP request where a ClientHello belongs.
    run(expect_server_refusal("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", false, 60.0,
                              "http request"));
}

TEST_P(Tls, GarbageInsteadOfClientHelloIsRefused) {
    run(expect_server_refusal(std::string(64, '\x16') + std::string(300, '\xff'), false, 60.0,
                              "weft::start_server: TLS handshake failed"));
}

TEST_P(Tls, PeerClosingMidHandshakeIsRefused) {
    // A record header announcing a ClientHello, then the end of the stream.
    run(expect_server_refusal(std::string("\x16\x03\x01\x00\x80\x01\x00\x00\x7c", 9), true, 60.0,
                              "the peer closed the connection during the TLS handshake"));
}

TEST_P(Tls, SilentClientIsDroppedAtTheHandshakeTimeout) {
    run(expect_server_refusal("", false, 0.3,
                              "did not finish within 0.3 s (ssl_handshake_timeout)"));
}

TEST_P(Tls, SlowClientIsDroppedAtTheHandshakeTimeout) {
    run([]() -> weft::task<void> {
        reports r;
        r.install();
        auto sctx = server_ctx();
        weft::server srv = co_await weft::start_server(
            echo, "127.0.0.1", 0, {.ssl = &sctx, .ssl_handshake_timeout = 0.3});
        auto [reader, writer] =
            co_await weft::open_connection("127.0.0.1", srv.addresses()[0].port());
        // A ClientHello's first bytes, one every 50 ms.
        std::string hello("\x16\x03\x01\x00\x80\x01\x00\x00\x7c\x03\x03", 11);
        bool dropped = false;
        for (char c : hello) {
            try {
                writer.write(std::string_view(&c, 1));
                co_await writer.drain();
            } catch (const weft::connection_error&) {
                dropped = true;
                break;
            }
            co_await weft::sleep(0.05);
        }
        if (!dropped) {
            try {
                EXPECT_EQ(co_await weft::wait_for(reader.read(), 5.0), "");
            } catch (const weft::connection_error&) {
            }
        }
        co_await eventually(
            [&] { return r.all().find("ssl_handshake_timeout") != std::string::npos; });
        EXPECT_NE(r.all().find("did not finish within 0.3 s"), std::string::npos) << r.all();
        writer.close();
        srv.close();
        co_await srv.wait_closed();
    }());
}

// A client whose server never answers the ClientHello gives up at its own
// handshake timeout, and closes the connection.
TEST_P(Tls, ClientHandshakeTimeout) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(
            [](weft::stream_reader reader, weft::stream_writer) -> weft::task<void> {
                co_await reader.read();  // until the client goes
            },
            "127.0.0.1", 0);
        auto cctx = client_ctx();
        bool raised = false;
        try {
            co_await weft::open_connection("127.0.0.1", srv.addresses()[0].port(),
                                           {.ssl = &cctx, .ssl_handshake_timeout = 0.2});
        } catch (const weft::timeout_error& e) {
            raised = true;
            EXPECT_NE(std::string(e.what()).find("weft::open_connection: the TLS handshake did "
                                                 "not finish within 0.2 s"),
                      std::string::npos)
                << e.what();
        }
        EXPECT_TRUE(raised);
        co_await eventually([&] { return srv.active_connections() == 0; });
        EXPECT_EQ(srv.active_connections(), 0u);
        srv.close();
        co_await srv.wait_closed();
    }());
}

// A server that answers the ClientHello with garbage, or hangs up.
TEST_P(Tls, ClientRefusesAServerThatBreaksTheProtocol) {
    run([]() -> weft::task<void> {
        weft::server srv = co_await weft::start_server(
            [](weft::stream_reader reader, weft::stream_writer writer) -> weft::task<void> {
                co_await reader.read(10);
                writer.write("HTTP/1.1 400 Bad Request\r\n\r\n");
                co_await writer.drain();
                writer.close();
            },
            "127.0.0.1", 0);
        auto cctx = client_ctx();
        bool raised = false;
        try {
            co_await weft::open_connection("127.0.0.1", srv.addresses()[0].port(), {.ssl = &cctx});
        } catch (const weft::ssl_error& e) {
            raised = true;
            EXPECT_NE(std::string(e.what()).find("TLS handshake failed"), std::string::npos)
                << e.what();
        }
        EXPECT_TRUE(raised);
        srv.close();
        co_await srv.wait_closed();
    }());
}

// ---- start_tls: a plain connection upgraded (STARTTLS, as SMTP and IMAP do)

// Reads "STARTTLS", answers "GO" (with `go`), upgrades, then echoes lines
// over TLS. Without `go` the client starts its handshake right behind its
// command; the pause makes both arrive before the server's first read, so
// that its reader has the ClientHello read ahead when it upgrades.
weft::task<void> starttls_server(const weft::ssl_context* ctx, bool go, weft::stream_reader reader,
                                 weft::stream_writer writer) {
    if (!go) co_await weft::sleep(0.05);
    std::string command = co_await reader.readline();
    if (command != "STARTTLS\n") co_return;
    if (go) {
        writer.write("GO\n");
        co_await writer.drain();
    }
    co_await writer.start_tls(*ctx);
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;
        writer.write(line);
        co_await writer.drain();
    }
    writer.close();
    co_await writer.wait_closed();
}

weft::task<void> starttls_round_trip(bool go) {
    auto sctx = server_ctx();
    const weft::ssl_context* sp = &sctx;
    weft::server srv = co_await weft::start_server(
        [sp, go](weft::stream_reader r, weft::stream_writer w) {
            return starttls_server(sp, go, std::move(r), std::move(w));
        },
        "127.0.0.1", 0);
    auto cctx = client_ctx();
    auto [reader, writer] = co_await weft::open_connection("127.0.0.1", srv.addresses()[0].port());
    weft::stream_reader reader_copy = reader;  // made before: upgraded all the same
    weft::stream_writer writer_copy = writer;
    EXPECT_EQ(writer.tls_version(), "");
    writer.write("STARTTLS\n");
    if (go) {
        EXPECT_EQ(co_await reader.readline(), "GO\n");
    }
    co_await writer.start_tls(cctx, {.server_hostname = "localhost"});
    EXPECT_EQ(writer_copy.tls_version(), "TLSv1.3");
    writer_copy.write("secret\n");
    EXPECT_EQ(co_await reader_copy.readline(), "secret\n");
    writer.close();
    co_await writer.wait_closed();
    co_await eventually([&] { return srv.active_connections() == 0; });
    EXPECT_EQ(srv.active_connections(), 0u);
    srv.close();
    co_await srv.wait_closed();
}

TEST_P(Tls, StartTlsUpgradesAPlainConnection) {
    run(starttls_round_trip(true));
}

TEST_P(Tls, StartTlsHandsReadAheadBytesToTheHandshake) {
    run(starttls_round_trip(false));
}

TEST_P(Tls, StartTlsMisuseIsRefused) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        auto cctx = client_ctx();
        weft::server srv = co_await weft::start_server(echo, "127.0.0.1", 0, {.ssl = &sctx});
        std::uint16_t port = srv.addresses()[0].port();
        {
            // Already TLS.
            auto [reader, writer] =
                co_await weft::open_connection("localhost", port, {.ssl = &cctx});
            bool refused = false;
            try {
                co_await writer.start_tls(cctx, {.server_hostname = "localhost"});
            } catch (const std::logic_error& e) {
                refused = std::string(e.what()).find("already speaks TLS") != std::string::npos;
            }
            EXPECT_TRUE(refused);
            writer.close();
            co_await writer.wait_closed();
        }
        weft::server plain = co_await weft::start_server(echo, "127.0.0.1", 0);
        {
            // A read pending: its bytes would be the handshake's.
            auto [reader, writer] =
                co_await weft::open_connection("127.0.0.1", plain.addresses()[0].port());
            auto pending = weft::create_task(reader.read(10));
            co_await weft::sleep(0.01);
            bool refused = false;
            try {
                co_await writer.start_tls(cctx, {.server_hostname = "localhost"});
            } catch (const std::logic_error& e) {
                refused = std::string(e.what()).find("already waiting") != std::string::npos;
            }
            EXPECT_TRUE(refused);
            writer.close();
            try {
                co_await pending;
            } catch (const weft::closed_error&) {
            }
        }
        {
            // A pipe.
            std::vector<std::string> argv = {"cat"};
            weft::process cat = co_await weft::create_subprocess_exec(
                argv, {.std_in = weft::stdio::pipe, .std_out = weft::stdio::devnull});
            bool refused = false;
            try {
                co_await cat.std_in->start_tls(cctx, {.server_hostname = "localhost"});
            } catch (const std::logic_error& e) {
                refused = std::string(e.what()).find("not a pipe") != std::string::npos;
            }
            EXPECT_TRUE(refused);
            co_await cat.communicate();
        }
        {
            // An in-memory stream.
            auto [a, b] = weft::open_memory_pair();
            bool refused = false;
            try {
                co_await a.second.start_tls(cctx, {.server_hostname = "localhost"});
            } catch (const std::logic_error& e) {
                refused = std::string(e.what()).find("not a pipe or an in-memory one") !=
                          std::string::npos;
            }
            EXPECT_TRUE(refused);
            EXPECT_FALSE(b.first.at_eof());
        }
        plain.close();
        co_await plain.wait_closed();
        srv.close();
        co_await srv.wait_closed();
    }());
}

// ---- against OpenSSL's own tools and curl

// A port free a moment ago, for a tool that must be told which to listen on.
std::uint16_t free_port() {
    weft::socket s(AF_INET, SOCK_STREAM);
    s.bind(weft::socket_address::ip("127.0.0.1", 0));
    return s.getsockname().port();
}

bool have_program(const char* name) {
    return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

TEST_P(Tls, WeftClientAgainstOpenSslServer) {
    run([]() -> weft::task<void> {
        std::uint16_t port = free_port();
        // -rev: each line is answered reversed; "CLOSE" ends the connection
        // with close_notify.
        std::vector<std::string> argv = {"openssl",
                                         "s_server",
                                         "-4",
                                         "-accept",
                                         "127.0.0.1:" + std::to_string(port),
                                         "-cert",
                                         cert("localhost.pem"),
                                         "-key",
                                         cert("localhost.key"),
                                         "-alpn",
                                         "http/1.1,echo/1",
                                         "-rev",
                                         "-naccept",
                                         "1"};
        weft::process server = co_await weft::create_subprocess_exec(
            argv, {.std_out = weft::stdio::pipe, .std_err = weft::stdio::to_stdout});
        std::string out;
        for (;;) {
            std::string line = co_await weft::wait_for(server.std_out->readline(), 10.0);
            if (line == "ACCEPT\n") break;
            out += line;
            CO_ASSERT_TRUE(!line.empty());  // s_server ended before listening
        }
        auto cctx = client_ctx();
        cctx.set_alpn_protocols({"echo/1"});
        auto [reader, writer] = co_await weft::open_connection(
            "127.0.0.1", port, {.ssl = &cctx, .server_hostname = "localhost"});
        EXPECT_EQ(writer.selected_alpn_protocol(), "echo/1");
        writer.write("hello\n");
        EXPECT_EQ(co_await weft::wait_for(reader.readline(), 10.0), "olleh\n");
        writer.write("CLOSE\n");
        // s_server's close_notify: a clean end of the stream.
        EXPECT_EQ(co_await weft::wait_for(reader.read(), 10.0), "");
        writer.close();
        co_await writer.wait_closed();
        auto [rest, err] = co_await weft::wait_for(server.communicate(), 10.0);
        out += rest;
        EXPECT_EQ(co_await server.wait(), 0) << out;
        EXPECT_NE(out.find("ALPN protocols selected: echo/1"), std::string::npos) << out;
    }());
}

weft::task<void> greet(weft::stream_reader reader, weft::stream_writer writer) {
    std::string line = co_await reader.readline();
    writer.write("weft got " + line.substr(0, line.size() - 1) + " over " + writer.tls_version() +
                 " alpn=" + writer.selected_alpn_protocol() + "\n");
    co_await writer.drain();
    writer.close();
    co_await writer.wait_closed();
}

TEST_P(Tls, OpenSslClientAgainstWeftServer) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        sctx.set_alpn_protocols({"echo/1"});
        weft::server srv = co_await weft::start_server(greet, "127.0.0.1", 0, {.ssl = &sctx});
        std::vector<std::string> argv = {"openssl",
                                         "s_client",
                                         "-connect",
                                         "127.0.0.1:" + std::to_string(srv.addresses()[0].port()),
                                         "-servername",
                                         "localhost",
                                         "-CAfile",
                                         cert("ca.pem"),
                                         "-verify_return_error",
                                         "-verify_hostname",
                                         "localhost",
                                         "-alpn",
                                         "echo/1",
                                         "-quiet"};  // -quiet: waits for the server to close
        weft::process client =
            co_await weft::create_subprocess_exec(argv, {.std_in = weft::stdio::pipe,
                                                         .std_out = weft::stdio::pipe,
                                                         .std_err = weft::stdio::pipe});
        auto [out, err] = co_await weft::wait_for(client.communicate("ping\n"), 10.0);
        EXPECT_EQ(co_await client.wait(), 0) << out << err;
        EXPECT_EQ(out, "weft got ping over TLSv1.3 alpn=echo/1\n") << err;
        co_await eventually([&] { return srv.active_connections() == 0; });
        srv.close();
        co_await srv.wait_closed();
    }());
}

weft::task<void> https_hello(weft::stream_reader reader, weft::stream_writer writer) {
    std::string request = co_await reader.readuntil("\r\n\r\n");
    std::string body = "hello over " + writer.tls_version() +
                       " alpn=" + writer.selected_alpn_protocol() + " for " +
                       request.substr(0, request.find("\r\n")) + "\n";
    writer.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                 "\r\nConnection: close\r\n\r\n" + body);
    co_await writer.drain();
    writer.close();
    co_await writer.wait_closed();
}

TEST_P(Tls, CurlAgainstWeftServer) {
    if (!have_program("curl")) GTEST_SKIP() << "no curl command (Debian package curl)";
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        sctx.set_alpn_protocols({"http/1.1"});
        weft::server srv = co_await weft::start_server(https_hello, "127.0.0.1", 0, {.ssl = &sctx});
        std::string url = "https://localhost:" + std::to_string(srv.addresses()[0].port()) + "/x";
        std::vector<std::string> argv = {
            "curl",       "-sS",
            "--max-time", "10",
            "--cacert",   cert("ca.pem"),
            "--resolve",  "localhost:" + std::to_string(srv.addresses()[0].port()) + ":127.0.0.1",
            url};
        weft::process curl = co_await weft::create_subprocess_exec(
            argv, {.std_out = weft::stdio::pipe, .std_err = weft::stdio::pipe});
        auto [out, err] = co_await weft::wait_for(curl.communicate(), 15.0);
        EXPECT_EQ(co_await curl.wait(), 0) << err;
        EXPECT_EQ(out, "hello over TLSv1.3 alpn=http/1.1 for GET /x HTTP/1.1\n") << err;
        co_await eventually([&] { return srv.active_connections() == 0; });
        srv.close();
        co_await srv.wait_closed();
    }());
}

// ---- bad input

TEST_P(Tls, BadSettingsAreRefusedUpFront) {
    run([]() -> weft::task<void> {
        auto sctx = server_ctx();
        auto cctx = client_ctx();
        // A client's context for a server, a server's for a client.
        bool server_refused = false;
        try {
            co_await weft::start_server(echo, "127.0.0.1", 0, {.ssl = &cctx});
        } catch (const std::invalid_argument& e) {
            server_refused = std::string(e.what()).find("not a client's") != std::string::npos;
        }
        EXPECT_TRUE(server_refused);
        bool bad_timeout = false;
        try {
            co_await weft::start_server(echo, "127.0.0.1", 0,
                                        {.ssl = &sctx, .ssl_handshake_timeout = -1});
        } catch (const std::invalid_argument& e) {
            bad_timeout = std::string(e.what()).find("ssl_handshake_timeout") != std::string::npos;
        }
        EXPECT_TRUE(bad_timeout);

        weft::server srv = co_await weft::start_server(echo, "127.0.0.1", 0, {.ssl = &sctx});
        std::uint16_t port = srv.addresses()[0].port();
        bool client_refused = false;
        try {
            co_await weft::open_connection("127.0.0.1", port, {.ssl = &sctx});
        } catch (const std::invalid_argument& e) {
            client_refused = std::string(e.what()).find("not a server's") != std::string::npos;
        }
        EXPECT_TRUE(client_refused);
        // Over a Unix socket there is no host name to default to: a context
        // that checks names needs server_hostname.
        std::string path = "/tmp/weft-tls-" + std::to_string(::getpid()) + ".sock";
        weft::server usrv = co_await weft::start_unix_server(echo, path, {.ssl = &sctx});
        bool no_name = false;
        try {
            co_await weft::open_unix_connection(path, {.ssl = &cctx});
        } catch (const std::invalid_argument& e) {
            no_name =
                std::string(e.what()).find("server_hostname must be given") != std::string::npos;
        }
        EXPECT_TRUE(no_name);
        {
            auto [reader, writer] = co_await weft::open_unix_connection(
                path, {.ssl = &cctx, .server_hostname = "localhost"});
            writer.write("unix\n");
            EXPECT_EQ(co_await reader.readline(), "unix\n");
            writer.close();
            co_await writer.wait_closed();
        }
        usrv.close();
        co_await usrv.wait_closed();
        bool zero_timeout = false;
        try {
            co_await weft::open_connection("127.0.0.1", port,
                                           {.ssl = &cctx, .ssl_shutdown_timeout = 0});
        } catch (const std::invalid_argument& e) {
            zero_timeout = std::string(e.what()).find("ssl_shutdown_timeout") != std::string::npos;
        }
        EXPECT_TRUE(zero_timeout);
        co_await eventually([&] { return srv.active_connections() == 0; });
        srv.close();
        co_await srv.wait_closed();
    }());
}

}  // namespace
