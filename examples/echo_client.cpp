// A TCP echo client: connects, sends each message as a line, reads the echo
// back, and closes. The C++ twin of asyncio's open_connection example.
//
//     echo_client --port 8888 --message hello --count 3
#include <cstdio>
#include <limits>
#include <string>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

weft::task<int> talk(std::string host, int port, std::string message, int count) {
    auto [reader, writer] = co_await weft::open_connection(host, static_cast<std::uint16_t>(port));
    std::printf("connected to %s\n", writer.peername().to_string().c_str());
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
    CLI::App app{"TCP echo client (asyncio's open_connection example)"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    int port = 8888, count = 3;
    std::string host = "127.0.0.1", message = "hello";
    app.add_option("--port", port, "server port")->check(weft::cli::whole_number(1, 65535));
    app.add_option("--host", host, "server host (a name or an address)");
    app.add_option("--message", message, "what to send");
    app.add_option("--count", count, "how many times")
        ->check(weft::cli::whole_number(1, std::numeric_limits<int>::max()));
    weft::cli::parse(app, argc, argv);
    try {
        return weft::run(talk(host, port, message, count), {.threads = threads});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_client: %s\n", e.what());
        return 1;
    }
}
