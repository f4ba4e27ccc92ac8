// A TCP echo server: every byte a client sends comes back. The C++ twin of
// asyncio's start_server echo example, and the server the echo benchmark
// drives (docs/io.md): one handler task per connection, reading whatever
// has arrived and writing it back.
//
//     echo_server --port 8888              # one worker per hardware thread
//     echo_server --threads 1 --port 0     # asyncio mode, any free port
//
// It prints the address it listens on, serves until SIGINT or SIGTERM, then
// closes and exits 0.
#include <csignal>
#include <cstdio>
#include <string>

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

weft::task<void> serve(std::string host, int port, int threads) {
    weft::server srv = co_await weft::start_server(echo, host, static_cast<std::uint16_t>(port),
                                                   {.backlog = 1024});
    std::printf("echo server listening on %s (threads=%d)\n",
                srv.addresses()[0].to_string().c_str(), threads);
    std::fflush(stdout);
    for (int sig : {SIGINT, SIGTERM})
        weft::add_signal_handler(sig, [&srv] { srv.close(); });
    co_await srv.serve_forever();  // returns once a signal closed the server
    for (int sig : {SIGINT, SIGTERM})
        weft::remove_signal_handler(sig);  // their callbacks refer to srv
    srv.abort_clients();
    std::printf("server closed\n");
}

int main(int argc, char** argv) {
    CLI::App app{"TCP echo server (asyncio's start_server example)"};
    int threads = weft::cli::hardware_threads();
    weft::cli::add_threads(app, threads);
    int port = 8888;
    std::string host = "127.0.0.1";
    app.add_option("--port", port, "TCP port (0: any free one)")->check(CLI::Range(0, 65535));
    app.add_option("--host", host, "address to listen on");
    weft::cli::parse(app, argc, argv);
    weft::run(serve(host, port, threads), {.threads = threads});
}
