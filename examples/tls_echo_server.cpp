// A TLS echo server: every byte a client sends comes back, over TLS. The
// echo_server example with asyncio's start_server(..., ssl=ctx).
//
//     tls_echo_server --cert cert.pem --key key.pem --port 8443
//     tls_echo_server --cert cert.pem --key key.pem --threads 1 --port 0
//
// It prints the address it listens on, serves until SIGINT or SIGTERM, then
// shuts down gracefully and exits 0. A client whose handshake fails (or
// takes longer than --handshake-timeout seconds) is dropped and reported on
// stderr; the others go on. A certificate or key it cannot load, a port in
// use: one line on stderr, exit status 1.
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

#include <weft/cli.hpp>
#include <weft/tls/ssl_context.hpp>
#include <weft/weft.hpp>

weft::task<void> echo(weft::stream_reader reader, weft::stream_writer writer) {
    try {
        for (;;) {
            std::string data = co_await reader.read(65536);
            if (data.empty()) break;  // the client's close_notify
            writer.write(data);
            co_await writer.drain();
        }
    } catch (const weft::connection_error&) {
        // The client reset the connection: nothing more to do for it.
    } catch (const weft::ssl_eof_error&) {
        // The client left without close_notify: nothing more to echo.
    }
}

weft::task<void> serve(const weft::ssl_context& ctx, std::string host, int port, int threads,
                       double handshake_timeout, double grace_period) {
    weft::server srv;
    try {
        srv = co_await weft::start_server(
            echo, host, static_cast<std::uint16_t>(port),
            {.backlog = 1024, .ssl = &ctx, .ssl_handshake_timeout = handshake_timeout});
    } catch (const std::system_error& e) {
        throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                                 e.code().message());
    }
    std::printf("tls echo server listening on %s (threads=%d)\n",
                srv.addresses()[0].to_string().c_str(), threads);
    std::fflush(stdout);
    for (int sig : {SIGINT, SIGTERM}) {
        weft::add_signal_handler(sig, [&srv] {
            if (srv.is_serving()) {
                srv.close();
            } else {
                srv.abort_clients();
            }
        });
    }
    co_await srv.serve_forever();  // returns once a signal closed the server
    bool clean = co_await srv.shutdown(grace_period);
    for (int sig : {SIGINT, SIGTERM})
        weft::remove_signal_handler(sig);  // their callbacks refer to srv
    if (!clean) {
        std::printf("grace period over: %zu connections aborted\n", srv.active_connections());
    }
    std::printf("server closed\n");
}

int main(int argc, char** argv) {
    CLI::App app{"TLS echo server (asyncio's start_server with ssl=)"};
    int threads = weft::cli::hardware_threads();
    weft::cli::add_threads(app, threads);
    int port = 8443;
    std::string host = "127.0.0.1", cert, key;
    double handshake_timeout = 60, grace_period = 5;
    app.add_option("--cert", cert, "the server's certificate chain (PEM)")->required();
    app.add_option("--key", key, "its private key (PEM; default: in the --cert file)");
    app.add_option("--port", port, "TCP port (0: any free one)")->check(CLI::Range(0, 65535));
    app.add_option("--host", host, "address to listen on");
    app.add_option("--handshake-timeout", handshake_timeout,
                   "seconds a client's TLS handshake may take")
        ->check(CLI::Range(0.001, 3600.0));
    app.add_option("--grace-period", grace_period,
                   "seconds clients get to finish after SIGINT/SIGTERM before they are aborted")
        ->check(CLI::Range(0.0, 3600.0));
    int tickets = 2;
    app.add_option("--tickets", tickets,
                   "TLS 1.3 session tickets sent after each handshake (Python's num_tickets)")
        ->check(CLI::Range(0, 16));
    weft::cli::parse(app, argc, argv);
    try {
        auto ctx = weft::ssl_context::create_default(weft::ssl_purpose::client_auth);
        ctx.load_cert_chain(cert, key);
        ctx.set_num_tickets(static_cast<std::size_t>(tickets));
        weft::run(serve(ctx, host, port, threads, handshake_timeout, grace_period),
                  {.threads = threads});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tls_echo_server: %s\n", e.what());
        return 1;
    }
}
