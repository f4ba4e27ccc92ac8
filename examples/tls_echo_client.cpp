// A TLS echo client: connects with TLS, sends each message as a line, reads
// the echo back, and closes with close_notify. The echo_client example with
// asyncio's open_connection(..., ssl=ctx, server_hostname=...).
//
//     tls_echo_client --port 8443 --cafile ca.pem --server-hostname localhost
//
// The server's certificate is verified against --cafile, or the system's CA
// store without it, and must name --server-hostname (by default --host). A
// refused certificate, a failed handshake, nobody listening: one line on
// stderr naming the problem, exit status 1.
#include <cstdio>
#include <limits>
#include <string>

#include <weft/cli.hpp>
#include <weft/tls/ssl_context.hpp>
#include <weft/weft.hpp>

weft::task<int> talk(const weft::ssl_context& ctx, std::string host, int port,
                     std::string server_hostname, std::string message, int count) {
    auto [reader, writer] = co_await weft::open_connection(
        host, static_cast<std::uint16_t>(port), {.ssl = &ctx, .server_hostname = server_hostname});
    std::printf("connected to %s over %s\n", writer.peername().to_string().c_str(),
                writer.tls_version().c_str());
    for (int i = 1; i <= count; ++i) {
        std::string line = message + " " + std::to_string(i) + "\n";
        writer.write(line);
        co_await writer.drain();
        std::string echoed = co_await reader.readline();
        if (echoed != line) {
            std::printf("unexpected echo: '%s'\n", echoed.c_str());
            co_return 1;
        }
        std::printf("sent and received: %s", echoed.c_str());
    }
    writer.close();
    co_await writer.wait_closed();
    std::printf("closed\n");
    co_return 0;
}

int main(int argc, char** argv) {
    CLI::App app{"TLS echo client (asyncio's open_connection with ssl=)"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    int port = 8443, count = 3;
    std::string host = "127.0.0.1", server_hostname, cafile, message = "hello";
    app.add_option("--port", port, "server port")->check(weft::cli::whole_number(1, 65535));
    app.add_option("--host", host, "server host (a name or an address)");
    app.add_option("--server-hostname", server_hostname,
                   "the name the server's certificate must have (default: --host)");
    app.add_option("--cafile", cafile,
                   "CA certificates (PEM) to verify the server against "
                   "(default: the system's store)");
    app.add_option("--message", message, "what to send");
    app.add_option("--count", count, "how many times")
        ->check(weft::cli::whole_number(1, std::numeric_limits<int>::max()));
    weft::cli::parse(app, argc, argv);
    try {
        auto ctx = weft::ssl_context::create_default();
        if (!cafile.empty()) ctx.load_verify_locations(cafile);
        return weft::run(talk(ctx, host, port, server_hostname, message, count),
                         {.threads = threads});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tls_echo_client: %s\n", e.what());
        return 1;
    }
}
