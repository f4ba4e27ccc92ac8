// The seed's web server (FastAPI + uvicorn in the Python tutorial) on weft,
// HTTP/1.1 with keep-alive, parsed by Node's http_parser (Debian's
// libhttp-parser-dev):
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
//     http_server --port 8000              # one worker per hardware thread
//     curl http://127.0.0.1:8000/timeit/2
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <http_parser.h>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

namespace {

struct request {
    std::string method;
    std::string url;
    bool keep_alive = true;
    bool http10 = false;
};

// http_parser calls back with pieces of the request as bytes arrive; these
// gather complete requests (several, when a client pipelines).
struct request_parser {
    http_parser parser;
    http_parser_settings settings;
    std::string url;
    std::vector<request> complete;

    request_parser() {
        http_parser_init(&parser, HTTP_REQUEST);
        parser.data = this;
        http_parser_settings_init(&settings);
        settings.on_url = [](http_parser* p, const char* at, size_t n) {
            static_cast<request_parser*>(p->data)->url.append(at, n);
            return 0;
        };
        settings.on_message_complete = [](http_parser* p) {
            auto* self = static_cast<request_parser*>(p->data);
            self->complete.push_back(request{http_method_str(static_cast<http_method>(p->method)),
                                             std::move(self->url), http_should_keep_alive(p) != 0,
                                             p->http_major == 1 && p->http_minor == 0});
            self->url.clear();
            return 0;
        };
    }
    // Feeds `data` ("" at the end of the stream); false on a malformed request.
    bool feed(std::string_view data) {
        size_t used = http_parser_execute(&parser, &settings, data.data(), data.size());
        return HTTP_PARSER_ERRNO(&parser) == HPE_OK && used == data.size();
    }
};

std::string response(int status, std::string_view reason, std::string_view body,
                     const request& req) {
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
        "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body.size()) +
        "\r\n";
    if (!req.keep_alive) {
        out += "connection: close\r\n";
    } else if (req.http10) {
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

weft::task<std::string> handle(const request& req) {
    double seconds = 0;
    std::string_view url = req.url;
    if (req.method != "GET") {
        co_return response(405, "Method Not Allowed", R"({"detail":"Method Not Allowed"})", req);
    }
    if (url == "/") co_return response(200, "OK", R"({"Hello": "World"})", req);
    if (seconds_in(url, "/timeit/", seconds)) {
        co_await weft::sleep(seconds);  // other requests go on meanwhile
        co_return response(200, "OK", "\"sleep seconds: " + std::string(url.substr(8)) + "\"", req);
    }
    if (seconds_in(url, "/block/", seconds)) {
        // The tutorial's time.sleep: this thread does nothing else meanwhile.
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        co_return response(200, "OK", "\"block seconds: " + std::string(url.substr(7)) + "\"", req);
    }
    co_return response(404, "Not Found", R"({"detail":"Not Found"})", req);
}

weft::task<void> connection(weft::stream_reader reader, weft::stream_writer writer) {
    request_parser parser;
    try {
        for (;;) {
            std::string data = co_await reader.read(65536);
            if (!parser.feed(data)) {
                request bad{"", "", false, false};
                writer.write(response(400, "Bad Request", R"({"detail":"Bad Request"})", bad));
                break;
            }
            bool keep_alive = true;
            for (const request& req : parser.complete) {
                writer.write(co_await handle(req));
                keep_alive = req.keep_alive;
                if (!keep_alive) break;
            }
            parser.complete.clear();
            co_await writer.drain();
            if (data.empty() || !keep_alive) break;
        }
        writer.close();  // after the queued response is sent
    } catch (const weft::connection_error&) {
        // The client went away mid-request.
    }
}

weft::task<void> serve(std::string host, int port, int threads) {
    weft::server srv = co_await weft::start_server(
        connection, host, static_cast<std::uint16_t>(port), {.backlog = 1024});
    std::printf("http server listening on http://%s (threads=%d)\n",
                srv.addresses()[0].to_string().c_str(), threads);
    std::fflush(stdout);
    for (int sig : {SIGINT, SIGTERM})
        weft::add_signal_handler(sig, [&srv] { srv.close(); });
    co_await srv.serve_forever();
    for (int sig : {SIGINT, SIGTERM})
        weft::remove_signal_handler(sig);
    srv.abort_clients();
    std::printf("server closed\n");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"the seed's web server: GET /, /timeit/{seconds}, /block/{seconds}"};
    int threads = weft::cli::hardware_threads();
    weft::cli::add_threads(app, threads);
    int port = 8000;
    std::string host = "127.0.0.1";
    app.add_option("--port", port, "TCP port (0: any free one)")->check(CLI::Range(0, 65535));
    app.add_option("--host", host, "address to listen on");
    weft::cli::parse(app, argc, argv);
    weft::run(serve(host, port, threads), {.threads = threads});
}
