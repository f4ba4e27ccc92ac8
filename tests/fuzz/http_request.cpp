// libFuzzer entry point for examples/http's request parser: random bytes,
// fed whole and in random pieces, must never crash it and must give the
// same requests and the same verdict however they are cut.
//
//     clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
//         tests/fuzz/http_request.cpp examples/http/request_parser.cpp
//         -Iexamples -o fuzz_http_request
//     ./fuzz_http_request tests/fuzz/corpus/http_request
//
// (the first command is one line), or the `fuzz` preset (docs/fuzzing.md).
//
// The first two bytes choose the cut points; the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.hpp"

namespace {

// What a parser reports for `bytes` cut at `cuts`: each request, then the
// error status if it failed, as text to compare.
std::string transcript(std::string_view bytes, const std::vector<std::size_t>& cuts,
                       const http::parse_limits& limits) {
    http::request_parser p(limits);
    std::string out;
    std::size_t at = 0;
    auto feed = [&](std::string_view piece) {
        for (const http::request& r : p.feed(piece)) {
            out += r.method + '\x1f' + r.target + '\x1f' + std::to_string(r.version_minor) +
                   '\x1f' + std::to_string(r.headers.size()) + '\x1f' + r.body + '\x1f' +
                   (r.keep_alive ? "ka" : "close") + '\x1e';
            // Whatever parsed is within the limits and of the grammar's shape.
            if (r.method.empty() || r.target.empty() || r.version_minor < 0 ||
                r.version_minor > 1 || r.headers.size() > limits.max_headers ||
                r.body.size() > limits.max_body) {
                std::abort();
            }
        }
    };
    for (std::size_t cut : cuts) {
        feed(bytes.substr(at, cut - at));
        at = cut;
    }
    feed(bytes.substr(at));
    if (p.failed()) {
        int s = p.error_status();
        if (s != 400 && s != 413 && s != 414 && s != 431 && s != 501 && s != 505) std::abort();
        if (p.error().empty() || p.buffered() != 0) std::abort();
        out += "error " + std::to_string(s);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    unsigned a = data[0], b = data[1];
    std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);
    // Small limits, so that random inputs reach them too.
    http::parse_limits limits;
    limits.max_request_line = 256;
    limits.max_header_bytes = 512;
    limits.max_headers = 8;
    limits.max_body = 1024;

    std::string whole = transcript(bytes, {}, limits);
    std::size_t n = bytes.size();
    std::size_t cut1 = n == 0 ? 0 : a % (n + 1);
    std::size_t cut2 = n == 0 ? 0 : b % (n + 1);
    if (cut2 < cut1) std::swap(cut1, cut2);
    if (transcript(bytes, {cut1}, limits) != whole) std::abort();
    if (transcript(bytes, {cut1, cut2}, limits) != whole) std::abort();

    // One parse_request over the whole agrees with the parser's first answer.
    http::parse_result r = http::parse_request(bytes, limits);
    if (r.status == http::parse_status::complete && (r.consumed == 0 || r.consumed > n)) {
        std::abort();
    }
    return 0;
}
