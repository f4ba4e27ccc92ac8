// A TCP echo server: every byte a client sends comes back. The C++ twin of
// asyncio's start_server echo example, and the server the echo benchmark
// drives (docs/io.md): one handler task per connection, reading whatever
// has arrived and writing it back.
//
//     echo_server --port 8888              # one worker per hardware thread
//     echo_server --threads 1 --port 0     # asyncio mode, any free port
//
// It prints the address it listens on, serves until SIGINT or SIGTERM, then
// shuts down gracefully (server::shutdown: each connection gets a FIN once
// its handler is done, within --grace-period seconds) and exits 0. A port in
// use or a host it cannot listen on: one line on stderr, exit status 1.
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

#include <netdb.h>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

weft::task<void> echo(weft::stream_reader reader, weft::stream_writer writer) {
    try {
        for (;;) {
            std::string data = co_await reader.read(65536);
            if (data.empty()) break;  // the client closed its side
            writer.write(data);
            co_await writer.drain();  // waits only if the client stops reading
        }
    } catch (const weft::connection_error&) {
        // The client reset the connection: nothing more to do for it.
    }
}

// start_server, with a failure (a port in use, a host that does not resolve
// or is not one of this machine's addresses) as one line naming it.
weft::task<weft::server> listen(std::string host, int port) {
    std::string where = host + ":" + std::to_string(port);
    try {
        co_return co_await weft::start_server(echo, host, static_cast<std::uint16_t>(port),
                                              {.backlog = 1024});
    } catch (const weft::resolve_error& e) {
        throw std::runtime_error("cannot listen on " + where + ": " + gai_strerror(e.code()));
    } catch (const std::system_error& e) {
        throw std::runtime_error("cannot listen on " + where + ": " + e.code().message());
    }
}

weft::task<void> serve(std::string host, int port, int threads, double grace_period) {
    weft::server srv = co_await listen(host, port);
    std::printf("echo server listening on %s (threads=%d)\n",
                srv.addresses()[0].to_string().c_str(), threads);
    std::fflush(stdout);
    // The first signal starts a graceful shutdown; another one during the
    // grace period cuts it short.
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
    // Each client sees the end of its echoes, then a FIN (never a reset);
    // those still connected after the grace period are aborted.
    bool clean = co_await srv.shutdown(grace_period);
    for (int sig : {SIGINT, SIGTERM})
        weft::remove_signal_handler(sig);  // their callbacks refer to srv
    if (!clean) {
        std::printf("grace period over: %zu connections aborted\n", srv.active_connections());
    }
    std::printf("server closed\n");
}

int main(int argc, char** argv) {
    CLI::App app{"TCP echo server (asyncio's start_server example)"};
    int threads = weft::cli::hardware_threads();
    weft::cli::add_threads(app, threads);
    int port = 8888;
    std::string host = "127.0.0.1";
    double grace_period = 5;
    app.add_option("--port", port, "TCP port (0: any free one)")->check(CLI::Range(0, 65535));
    app.add_option("--host", host, "address to listen on");
    app.add_option("--grace-period", grace_period,
                   "seconds clients get to finish after SIGINT/SIGTERM before they are aborted")
        ->check(CLI::Range(0.0, 3600.0));
    weft::cli::parse(app, argc, argv);
    try {
        weft::run(serve(host, port, threads, grace_period), {.threads = threads});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
}
