// The seed's web server (FastAPI + uvicorn in the Python tutorial) on weft,
// HTTP/1.1 with keep-alive, parsed strictly by examples/http (a malformed
// request gets 400, or 413/414/431/501/505, and the connection is closed):
//
//     GET /                 {"Hello": "World"}
//     GET /timeit/{seconds} waits with weft::sleep, then "sleep seconds: N"
//     GET /block/{seconds}  blocks its thread with a plain sleep, then
//                           "block seconds: N"
//
// /timeit shows what awaiting buys: many requests wait at once, on one
// thread. /block shows the blocking call the tutorial warns about: with
// --threads 1 (asyncio mode) it stops every other request until it is done;
// with more threads only the worker running it stops (see docs/io.md for
// what that worker's own connections see).
//
// With --tls-cert and --tls-key it serves HTTPS instead (asyncio's
// start_server(..., ssl=ctx)), offering ALPN "http/1.1"; a client whose TLS
// handshake fails is reported on stderr and dropped, the others go on.
//
// On SIGINT or SIGTERM it stops accepting, answers the requests in flight
// (with "connection: close"), closes idle connections with a FIN, and aborts
// what is left after --grace-period seconds (server::shutdown). A port in
// use or a host it cannot listen on: one line on stderr, exit status 1.
//
//     http_server --port 8000              # one worker per hardware thread
//     curl http://127.0.0.1:8000/timeit/2
//     http_server --port 8443 --tls-cert cert.pem --tls-key key.pem
//     curl --cacert ca.pem https://localhost:8443/
#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <netdb.h>

#include <weft/cli.hpp>
#include <weft/weft.hpp>
#if WEFT_EXAMPLE_TLS
#include <weft/tls/ssl_context.hpp>
#endif

#include "http/request_parser.hpp"

namespace {

// Set by the first SIGINT/SIGTERM: responses from then on close their
// connection. relaxed: a hint; close_clients() is what ends the connections.
std::atomic<bool> stopping{false};

std::string response(int status, std::string_view body, bool keep_alive, bool http10) {
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + " " + std::string(http::reason_phrase(status)) +
        "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body.size()) +
        "\r\n";
    if (!keep_alive) {
        out += "connection: close\r\n";
    } else if (http10) {
        out += "connection: keep-alive\r\n";
    }
    out += "\r\n";
    out += body;
    return out;
}

// "/timeit/2" with prefix "/timeit/": the seconds (a non-negative number).
bool seconds_in(std::string_view url, std::string_view prefix, double& seconds) {
    if (url.substr(0, prefix.size()) != prefix) return false;
    std::string_view arg = url.substr(prefix.size());
    auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), seconds);
    return ec == std::errc() && end == arg.data() + arg.size() && seconds >= 0 && seconds <= 3600;
}

weft::task<std::string> handle(const http::request& req, bool keep_alive) {
    double seconds = 0;
    std::string_view url = req.target;
    bool http10 = req.version_minor == 0;
    if (req.method != "GET") {
        co_return response(405, R"({"detail":"Method Not Allowed"})", keep_alive, http10);
    }
    if (url == "/") co_return response(200, R"({"Hello": "World"})", keep_alive, http10);
    if (seconds_in(url, "/timeit/", seconds)) {
        co_await weft::sleep(seconds);  // other requests go on meanwhile
        keep_alive = keep_alive && !stopping.load(std::memory_order_relaxed);
        co_return response(200, "\"sleep seconds: " + std::string(url.substr(8)) + "\"", keep_alive,
                           http10);
    }
    if (seconds_in(url, "/block/", seconds)) {
        // The tutorial's time.sleep: this thread does nothing else meanwhile.
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        keep_alive = keep_alive && !stopping.load(std::memory_order_relaxed);
        co_return response(200, "\"block seconds: " + std::string(url.substr(7)) + "\"", keep_alive,
                           http10);
    }
    co_return response(404, R"({"detail":"Not Found"})", keep_alive, http10);
}

// Reads and drops what the client still sends until it closes its side.
weft::task<void> discard_until_eof(weft::stream_reader& reader) {
    for (;;) {
        // Not `while (!(co_await reader.read(n)).empty())`: see docs/io.md, GCC 12.
        std::string dropped = co_await reader.read(65536);
        if (dropped.empty()) break;
    }
}

weft::task<void> connection(weft::stream_reader reader, weft::stream_writer writer) {
    http::request_parser parser;
    try {
        for (;;) {
            std::string data = co_await reader.read(65536);
            bool keep_alive = true;
            for (const http::request& req : parser.feed(data)) {
                keep_alive = req.keep_alive && !stopping.load(std::memory_order_relaxed);
                writer.write(co_await handle(req, keep_alive));
                if (!keep_alive) break;
            }
            if (keep_alive && parser.failed()) {
                std::string detail = std::string(http::reason_phrase(parser.error_status()));
                writer.write(response(parser.error_status(), R"({"detail":")" + detail + "\"}",
                                      false, false));
                // A FIN after the response, then what the client still sends
                // is read and dropped (for a while): closing with unread
                // bytes would reset the connection, and the client could
                // lose the response.
                co_await writer.drain();
                writer.write_eof();
                try {
                    co_await weft::wait_for(discard_until_eof(reader), 2.0);
                } catch (const weft::timeout_error&) {
                }
                break;
            }
            co_await writer.drain();
            if (data.empty() || !keep_alive) break;
        }
        writer.close();  // after the queued response is sent
    } catch (const weft::connection_error&) {
        // The client went away mid-request.
    }
#if WEFT_EXAMPLE_TLS
    catch (const weft::ssl_error&) {
        // Over HTTPS: the client left without close_notify, or sent a bad
        // record. Nothing more to answer.
    }
#endif
}

// start_server, with a failure (a port in use, a host that does not resolve
// or is not one of this machine's addresses) as one line naming it.
// `tls`: the server's TLS settings, or null for plain HTTP.
weft::task<weft::server> listen(std::string host, int port, const weft::ssl_context* tls) {
    std::string where = host + ":" + std::to_string(port);
    try {
        co_return co_await weft::start_server(connection, host, static_cast<std::uint16_t>(port),
                                              {.backlog = 1024, .ssl = tls});
    } catch (const weft::resolve_error& e) {
        throw std::runtime_error("cannot listen on " + where + ": " + gai_strerror(e.code()));
    } catch (const std::system_error& e) {
        throw std::runtime_error("cannot listen on " + where + ": " + e.code().message());
    }
}

weft::task<void> serve(std::string host, int port, int threads, double grace_period,
                       const weft::ssl_context* tls) {
    weft::server srv = co_await listen(host, port, tls);
    std::printf("http server listening on %s://%s (threads=%d)\n", tls ? "https" : "http",
                srv.addresses()[0].to_string().c_str(), threads);
    std::fflush(stdout);
    // The first signal starts a graceful shutdown; another one during the
    // grace period cuts it short.
    for (int sig : {SIGINT, SIGTERM}) {
        weft::add_signal_handler(sig, [&srv] {
            if (srv.is_serving()) {
                stopping.store(true, std::memory_order_relaxed);
                srv.close();
            } else {
                srv.abort_clients();
            }
        });
    }
    co_await srv.serve_forever();
    bool clean = co_await srv.shutdown(grace_period);
    for (int sig : {SIGINT, SIGTERM})
        weft::remove_signal_handler(sig);  // their callbacks refer to srv
    if (!clean) {
        std::printf("grace period over: %zu connections aborted\n", srv.active_connections());
    }
    std::printf("server closed\n");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"the seed's web server: GET /, /timeit/{seconds}, /block/{seconds}"};
    int threads = weft::cli::hardware_threads();
    weft::cli::add_threads(app, threads);
    int port = 8000;
    std::string host = "127.0.0.1";
    double grace_period = 5;
    app.add_option("--port", port, "TCP port (0: any free one)")->check(CLI::Range(0, 65535));
    app.add_option("--host", host, "address to listen on");
    app.add_option("--grace-period", grace_period,
                   "seconds requests in flight get to finish after SIGINT/SIGTERM before their "
                   "connections are aborted")
        ->check(CLI::Range(0.0, 3600.0));
#if WEFT_EXAMPLE_TLS
    std::string tls_cert, tls_key;
    auto* cert_opt =
        app.add_option("--tls-cert", tls_cert, "serve HTTPS with this certificate chain (PEM)");
    auto* key_opt = app.add_option("--tls-key", tls_key, "the private key of --tls-cert (PEM)");
    cert_opt->needs(key_opt);
    key_opt->needs(cert_opt);
#endif
    weft::cli::parse(app, argc, argv);
    try {
        const weft::ssl_context* tls = nullptr;
#if WEFT_EXAMPLE_TLS
        std::optional<weft::ssl_context> ctx;
        if (!tls_cert.empty()) {
            ctx = weft::ssl_context::create_default(weft::ssl_purpose::client_auth);
            ctx->load_cert_chain(tls_cert, tls_key);
            ctx->set_alpn_protocols({"http/1.1"});
            tls = &*ctx;
        }
#endif
        weft::run(serve(host, port, threads, grace_period, tls), {.threads = threads});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_server: %s\n", e.what());
        return 1;
    }
}
