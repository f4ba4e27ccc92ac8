// HTTP/1.1 request parsing for examples/http_server (RFC 9110 and 9112),
// strict where leniency lets a request mean two things: a request line
// without a version, whitespace before a header's colon, line folding, a
// bare CR or LF, conflicting or malformed Content-Length, Transfer-Encoding
// beside Content-Length... each gets an error status instead of a guess.
//
// Plain C++ with no dependency on the weft runtime, so that unit tests and
// a fuzzer (tests/fuzz/http_request.cpp) can drive it with bytes alone.
//
//     http::request_parser parser;
//     for (http::request& req : parser.feed(bytes)) { ...answer req... }
//     if (parser.failed()) { ...answer parser.error_status(), close... }
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace http {

struct header {
    std::string name;   // as sent (compare case-insensitively)
    std::string value;  // without the surrounding whitespace
};

struct request {
    std::string method;
    std::string target;     // the request-target, as sent
    int version_minor = 1;  // HTTP/1.<minor>: 0 or 1
    std::vector<header> headers;
    std::string body;        // de-chunked
    bool keep_alive = true;  // the connection may carry another request

    // The first header named `name` (case-insensitive), or nullptr.
    const header* find(std::string_view name) const;
};

// Bounds on what one request may take; beyond them the request is refused
// with the status in parentheses.
struct parse_limits {
    std::size_t max_request_line = 8192;   // (414)
    std::size_t max_header_bytes = 16384;  // the header section, and the trailer section (431)
    std::size_t max_headers = 100;         // (431)
    std::size_t max_body = 1 << 20;        // (413)
};

enum class parse_status { complete, incomplete, error };

struct parse_result {
    parse_status status = parse_status::incomplete;
    request req;               // when complete
    std::size_t consumed = 0;  // when complete: the bytes the request took
    int error_status = 0;      // when error: 400, 413, 414, 431, 501 or 505
    std::string error;         // when error: what was wrong, in words
};

// Parses the request at the start of `data`. Incomplete when `data` is a
// proper prefix of a valid request; an error as soon as the bytes seen can
// begin no valid request, and then the same error for any longer `data`
// with that prefix (so parsing in pieces agrees with parsing at once).
parse_result parse_request(std::string_view data, const parse_limits& limits = {});

// The reason phrase of a status this parser or the example server uses.
std::string_view reason_phrase(int status);

// Requests from a byte stream that arrives in pieces (pipelined requests
// included).
class request_parser {
public:
    explicit request_parser(parse_limits limits = {}) : limits_(limits) {}

    // Appends `data` and returns the requests it completes, in order. After
    // a malformed request failed() is true and nothing more is parsed.
    std::vector<request> feed(std::string_view data);

    bool failed() const noexcept { return status_ != 0; }
    int error_status() const noexcept { return status_; }
    const std::string& error() const noexcept { return error_; }
    // Bytes received of a request not yet complete.
    std::size_t buffered() const noexcept { return buf_.size(); }

private:
    parse_limits limits_;
    std::string buf_;
    int status_ = 0;
    std::string error_;
};

}  // namespace http
