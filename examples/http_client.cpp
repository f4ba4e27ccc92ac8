// The seed's client: two requests sent concurrently with gather, to
// /timeit/1 and /timeit/2 of http_server. They wait side by side, so the
// whole takes about 2 s, not 3 (the tutorial's httpx + asyncio.gather).
//
//     http_server --port 8000 &
//     http_client --port 8000        # total time is: 2.00 s
//
// With --tls both requests go over HTTPS (asyncio's open_connection(...,
// ssl=ctx)); the server's certificate is verified, for --host, against the
// system's CA store or --cafile.
//
//     http_server --port 8443 --tls-cert cert.pem --tls-key key.pem &
//     http_client --port 8443 --tls --host localhost --cafile ca.pem
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include <http_parser.h>

#include <weft/cli.hpp>
#include <weft/weft.hpp>
#if WEFT_EXAMPLE_TLS
#include <weft/tls/ssl_context.hpp>
#endif

namespace {

struct reply {
    int status = 0;
    std::string body;
};

// GET `path` on a connection of its own, over TLS when `tls` is set; the
// reply parsed by http_parser.
weft::task<reply> get(std::string host, std::uint16_t port, std::string path,
                      const weft::ssl_context* tls) {
    auto [reader, writer] = co_await weft::open_connection(host, port, {.ssl = tls});
    writer.write("GET " + path + " HTTP/1.1\r\nHost: " + host +
                 "\r\nConnection: close\r\nUser-Agent: weft-http-client\r\n\r\n");
    co_await writer.drain();

    struct state {
        reply r;
        bool done = false;
    } st;
    http_parser parser;
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = &st;
    http_parser_settings settings;
    http_parser_settings_init(&settings);
    settings.on_body = [](http_parser* p, const char* at, size_t n) {
        static_cast<state*>(p->data)->r.body.append(at, n);
        return 0;
    };
    settings.on_message_complete = [](http_parser* p) {
        auto* s = static_cast<state*>(p->data);
        s->r.status = static_cast<int>(p->status_code);
        s->done = true;
        return 0;
    };
    while (!st.done) {
        std::string data = co_await reader.read(65536);
        http_parser_execute(&parser, &settings, data.data(), data.size());
        if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
            throw std::runtime_error(std::string("bad HTTP response: ") +
                                     http_errno_description(HTTP_PARSER_ERRNO(&parser)));
        }
        if (data.empty() && !st.done) throw std::runtime_error("the server closed early");
    }
    writer.close();
    co_return st.r;
}

weft::task<void> get_timeit(std::string host, std::uint16_t port, const weft::ssl_context* tls) {
    auto start = std::chrono::steady_clock::now();
    // Both requests are in flight at once: gather makes each a task.
    auto [r1, r2] =
        co_await weft::gather(get(host, port, "/timeit/1", tls), get(host, port, "/timeit/2", tls));
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::printf("/timeit/1 -> %d %s\n", r1.status, r1.body.c_str());
    std::printf("/timeit/2 -> %d %s\n", r2.status, r2.body.c_str());
    std::printf("total time is: %.2f s\n", took.count());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"requests /timeit/1 and /timeit/2 concurrently (asyncio.gather)"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    int port = 8000;
    std::string host = "127.0.0.1";
    app.add_option("--port", port, "http_server's port")->check(weft::cli::whole_number(1, 65535));
    app.add_option("--host", host, "http_server's host");
#if WEFT_EXAMPLE_TLS
    bool use_tls = false;
    std::string cafile;
    app.add_flag("--tls", use_tls, "HTTPS: verify the server's certificate for --host");
    app.add_option("--cafile", cafile,
                   "trust the CA certificates in this file (PEM) instead of the system's store")
        ->needs("--tls");
#endif
    weft::cli::parse(app, argc, argv);
    try {
        const weft::ssl_context* tls = nullptr;
#if WEFT_EXAMPLE_TLS
        std::optional<weft::ssl_context> ctx;
        if (use_tls) {
            ctx = weft::ssl_context::create_default();
            if (!cafile.empty()) ctx->load_verify_locations(cafile);
            ctx->set_alpn_protocols({"http/1.1"});
            tls = &*ctx;
        }
#endif
        weft::run(get_timeit(host, static_cast<std::uint16_t>(port), tls), {.threads = threads});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_client: %s\n", e.what());
        return 1;
    }
}
