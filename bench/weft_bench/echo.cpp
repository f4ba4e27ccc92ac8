// echo: SPEC's TCP echo server on 127.0.0.1:--port, driven from outside by
// peers/loadgen/echo_client (100 connections, 64-byte messages), which
// reports the requests per second. Like the Go and Tokio peers it prints no
// result line and serves until it is killed (SIGINT or SIGTERM: it then
// closes and exits 0). One task per connection reads what has arrived and
// writes it back: the examples/echo_server handler, asyncio's streams.
#include <csignal>
#include <cstdio>
#include <string>

#include <weft/event_loop.hpp>
#include <weft/io.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

weft::task<void> echo(weft::stream_reader reader, weft::stream_writer writer) {
    try {
        for (;;) {
            std::string data = co_await reader.read(65536);
            if (data.empty()) break;
            writer.write(data);
            co_await writer.drain();
        }
    } catch (const weft::connection_error&) {
    }
}

}  // namespace

weft::task<report> run_echo(sizes s) {
    weft::server srv = co_await weft::start_server(
        echo, "127.0.0.1", static_cast<std::uint16_t>(s.port), {.backlog = 1024});
    std::fprintf(stderr, "weft-bench: echo server listening on %s\n",
                 srv.addresses()[0].to_string().c_str());
    std::fflush(stderr);
    for (int sig : {SIGINT, SIGTERM})
        weft::add_signal_handler(sig, [&srv] { srv.close(); });
    co_await srv.serve_forever();
    for (int sig : {SIGINT, SIGTERM})
        weft::remove_signal_handler(sig);
    srv.abort_clients();
    co_return report{"", {}};  // the load generator reports req/s
}

}  // namespace weft_bench
