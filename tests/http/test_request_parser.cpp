// examples/http's request parser, rule by rule (RFC 9112 for the message
// syntax, RFC 9110 for fields): what it accepts, what it refuses and with
// which status, and that bytes arriving in pieces parse as they do at once.
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "http/request_parser.hpp"

namespace {

using http::parse_request;
using http::parse_status;

// The status a whole request gets: 0 when it parses, else its error status
// (-1 when incomplete).
int status_of(std::string_view bytes, const http::parse_limits& limits = {}) {
    http::parse_result r = parse_request(bytes, limits);
    if (r.status == parse_status::complete) return r.consumed == bytes.size() ? 0 : -2;
    if (r.status == parse_status::incomplete) return -1;
    return r.error_status;
}

std::string get(std::string_view extra_headers) {
    return "GET / HTTP/1.1\r\nHost: example\r\n" + std::string(extra_headers) + "\r\n";
}

TEST(HttpRequest, ParsesAGet) {
    std::string bytes = "GET /timeit/1?x=%20y HTTP/1.1\r\nHost: example\r\nX-Thing:  a b \r\n\r\n";
    http::parse_result r = parse_request(bytes);
    ASSERT_EQ(r.status, parse_status::complete) << r.error;
    EXPECT_EQ(r.consumed, bytes.size());
    EXPECT_EQ(r.req.method, "GET");
    EXPECT_EQ(r.req.target, "/timeit/1?x=%20y");
    EXPECT_EQ(r.req.version_minor, 1);
    ASSERT_EQ(r.req.headers.size(), 2u);
    ASSERT_NE(r.req.find("x-thing"), nullptr);
    EXPECT_EQ(r.req.find("x-thing")->value, "a b");  // OWS trimmed, inner space kept
    EXPECT_TRUE(r.req.keep_alive);
    EXPECT_EQ(r.req.body, "");
}

TEST(HttpRequest, KeepAliveFollowsVersionAndConnection) {
    EXPECT_FALSE(parse_request(get("Connection: close\r\n")).req.keep_alive);
    EXPECT_FALSE(parse_request(get("Connection: upgrade, Close\r\n")).req.keep_alive);
    http::parse_result r10 = parse_request("GET / HTTP/1.0\r\n\r\n");
    ASSERT_EQ(r10.status, parse_status::complete) << r10.error;  // Host is optional in 1.0
    EXPECT_EQ(r10.req.version_minor, 0);
    EXPECT_FALSE(r10.req.keep_alive);
    EXPECT_TRUE(parse_request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").req.keep_alive);
}

TEST(HttpRequest, RequestLineNeedsAVersion) {
    EXPECT_EQ(status_of("GET /\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET\r\n\r\n"), 400);
    EXPECT_EQ(status_of("\r\n\r\n\r\n\r\n\r\n"), 400);  // only empty lines
}

TEST(HttpRequest, RequestLineHasSingleSpaces) {
    EXPECT_EQ(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(HttpRequest, MethodIsAToken) {
    EXPECT_EQ(status_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GE\x01T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
}

TEST(HttpRequest, RequestTargetForms) {
    EXPECT_EQ(status_of("GET http://example/a?b HTTP/1.1\r\nHost: example\r\n\r\n"), 0);
    EXPECT_EQ(status_of("GET http://[::1]:80/ HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    EXPECT_EQ(status_of("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    EXPECT_EQ(status_of("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("CONNECT example:443 HTTP/1.1\r\nHost: example:443\r\n\r\n"), 0);
    EXPECT_EQ(status_of("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("CONNECT example HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET relative/path HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /a#fragment HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /a\"b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(HttpRequest, VersionIsExactlyOneDotZeroOrOne) {
    EXPECT_EQ(status_of("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
    EXPECT_EQ(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
    EXPECT_EQ(status_of("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505);
    EXPECT_EQ(status_of("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.x\r\nHost: a\r\n\r\n"), 400);
}

TEST(HttpRequest, NoWhitespaceBeforeTheColon) {
    EXPECT_EQ(status_of(get("X-Bad : 1\r\n")), 400);
    EXPECT_EQ(status_of(get("X-Bad\t: 1\r\n")), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
}

TEST(HttpRequest, FieldNamesAreTokens) {
    EXPECT_EQ(status_of(get("X{1}: a\r\n")), 400);
    EXPECT_EQ(status_of(get(": a\r\n")), 400);
    EXPECT_EQ(status_of(get("no colon here\r\n")), 400);
    EXPECT_EQ(status_of(get("X\x80: a\r\n")), 400);
}

TEST(HttpRequest, FieldValuesHaveNoControls) {
    EXPECT_EQ(status_of(get(std::string("X: a\0b\r\n", 8))), 400);
    EXPECT_EQ(status_of(get("X: a\x01"
                            "b\r\n")),
              400);
    EXPECT_EQ(status_of(get("X: a\x7f\r\n")), 400);
    EXPECT_EQ(status_of(get("X: a\tb \x80\xff\r\n")), 0);  // HTAB and obs-text are allowed
}

TEST(HttpRequest, ObsoleteLineFoldingIsRefused) {
    EXPECT_EQ(status_of(get("X: a\r\n b\r\n")), 400);
    EXPECT_EQ(status_of(get("X: a\r\n\tb\r\n")), 400);
}

TEST(HttpRequest, LinesEndInCrLf) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);  // bare LF
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\n\r\n"), 400);  // bare LF
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\n\n"), 400);  // bare LF ends the section
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), 400);  // bare CR
    EXPECT_EQ(status_of("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), 400);      // bare CR
}

TEST(HttpRequest, LeadingEmptyLinesAreSkipped) {
    EXPECT_EQ(status_of("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
}

TEST(HttpRequest, HostIsRequiredOnceInHttp11) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
}

TEST(HttpRequest, ContentLengthBody) {
    std::string bytes = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    http::parse_result r = parse_request(bytes + "GET");  // the next request's start
    ASSERT_EQ(r.status, parse_status::complete) << r.error;
    EXPECT_EQ(r.req.body, "hello");
    EXPECT_EQ(r.consumed, bytes.size());
    EXPECT_EQ(status_of("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel"), -1);
    // The same value twice (as a list or as two fields) is one length.
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nhi"), 0);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                        "Content-Length: 2\r\n\r\nhi"),
              0);
}

TEST(HttpRequest, InvalidOrConflictingContentLength) {
    for (const char* v : {"-1", "+2", "0x2", "2 2", "", "2,", "abc", "1.0"}) {
        EXPECT_EQ(status_of(get("Content-Length: " + std::string(v) + "\r\n")), 400) << v;
    }
    EXPECT_EQ(status_of(get("Content-Length: 2, 3\r\n")), 400);
    EXPECT_EQ(status_of(get("Content-Length: 2\r\nContent-Length: 3\r\n")), 400);
}

TEST(HttpRequest, BodyTooLarge) {
    http::parse_limits small;
    small.max_body = 10;
    EXPECT_EQ(status_of(get("Content-Length: 11\r\n"), small), 413);
    EXPECT_EQ(status_of(get("Content-Length: 99999999999999999999999999\r\n")), 413);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "6\r\n123456\r\n5\r\n12345\r\n0\r\n\r\n",
                        small),
              413);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "ffffffffffffffffffff\r\n"),
              413);
}

TEST(HttpRequest, ChunkedBody) {
    std::string bytes =
        "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n7 ; x\r\n, world\r\n0\r\nTrailer: t\r\n\r\n";
    http::parse_result r = parse_request(bytes);
    ASSERT_EQ(r.status, parse_status::complete) << r.error;
    EXPECT_EQ(r.consumed, bytes.size());
    EXPECT_EQ(r.req.body, "hello, world");
    EXPECT_EQ(
        status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"), 0);
}

TEST(HttpRequest, MalformedChunks) {
    std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    EXPECT_EQ(status_of(head + "x\r\n"), 400);                      // no size
    EXPECT_EQ(status_of(head + "5 x\r\nhello\r\n0\r\n\r\n"), 400);  // junk after the size
    EXPECT_EQ(status_of(head + "3\r\nhello\r\n0\r\n\r\n"), 400);    // data longer than the size
    EXPECT_EQ(status_of(head + "5\r\nhello\rx0\r\n\r\n"), 400);     // bare CR after the data
    EXPECT_EQ(status_of(head + "0\r\nX : t\r\n\r\n"), 400);         // trailers follow field rules
    EXPECT_EQ(status_of(head + "5\r\nhel"), -1);
}

TEST(HttpRequest, TransferEncodingRules) {
    EXPECT_EQ(status_of(get("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")), 400);
    EXPECT_EQ(status_of(get("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n")), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
    EXPECT_EQ(status_of(get("Transfer-Encoding: gzip, chunked\r\n")), 501);
    EXPECT_EQ(status_of(get("Transfer-Encoding: identity\r\n")), 501);
    EXPECT_EQ(status_of(get("Transfer-Encoding: chunked, chunked\r\n")), 400);
    EXPECT_EQ(status_of(get("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")), 400);
    EXPECT_EQ(status_of(get("Transfer-Encoding: chunked,\r\n")), 400);
}

TEST(HttpRequest, Oversize) {
    http::parse_limits limits;
    limits.max_request_line = 64;
    limits.max_header_bytes = 128;
    limits.max_headers = 3;
    std::string long_target = "GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
    EXPECT_EQ(status_of(long_target, limits), 414);
    // Refused before its end arrives: a client cannot make it buffer more.
    EXPECT_EQ(status_of(long_target.substr(0, 70), limits), 414);
    std::string big_header = get("X: " + std::string(200, 'b') + "\r\n");
    EXPECT_EQ(status_of(big_header, limits), 431);
    EXPECT_EQ(status_of(big_header.substr(0, 150), limits), 431);
    EXPECT_EQ(status_of(get("A: 1\r\nB: 2\r\nC: 3\r\n"), limits), 431);
    EXPECT_EQ(status_of(get("A: 1\r\nB: 2\r\n"), limits), 0);
}

TEST(HttpRequest, PrefixesOfAValidRequestAreIncomplete) {
    std::string bytes =
        "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\nT: 1\r\n\r\n";
    for (std::size_t n = 0; n < bytes.size(); ++n)
        EXPECT_EQ(status_of(bytes.substr(0, n)), -1) << n;
    EXPECT_EQ(status_of(bytes), 0);
}

// Everything a parser fed `bytes` in the pieces cut at `cuts` reports.
std::string transcript(std::string_view bytes, const std::vector<std::size_t>& cuts) {
    http::request_parser p;
    std::string out;
    std::size_t at = 0;
    auto feed = [&](std::string_view piece) {
        for (const http::request& r : p.feed(piece))
            out += r.method + " " + r.target + " [" + r.body + "]" + (r.keep_alive ? " ka" : "") +
                   "\n";
    };
    for (std::size_t cut : cuts) {
        feed(bytes.substr(at, cut - at));
        at = cut;
    }
    feed(bytes.substr(at));
    if (p.failed()) out += "error " + std::to_string(p.error_status()) + "\n";
    return out;
}

TEST(HttpRequestParser, PipelinedRequestsInAnyPieces) {
    std::string bytes =
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
        "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
        "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    std::string whole = transcript(bytes, {});
    EXPECT_EQ(whole, "GET /a [] ka\nPOST /b [xyz] ka\nPOST /c [hi] ka\nGET /d []\n");
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut)
        ASSERT_EQ(transcript(bytes, {cut}), whole) << "cut at " << cut;
    std::vector<std::size_t> every_byte;
    for (std::size_t i = 1; i < bytes.size(); ++i)
        every_byte.push_back(i);
    EXPECT_EQ(transcript(bytes, every_byte), whole);
}

TEST(HttpRequestParser, StopsAtTheFirstError) {
    std::string bytes =
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n";
    std::string whole = transcript(bytes, {});
    EXPECT_EQ(whole, "GET /a [] ka\nerror 400\n");
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut)
        ASSERT_EQ(transcript(bytes, {cut}), whole) << "cut at " << cut;
    http::request_parser p;
    p.feed("GET /\r\n\r\n");
    EXPECT_TRUE(p.failed());
    EXPECT_EQ(p.error_status(), 400);
    EXPECT_FALSE(p.error().empty());
    EXPECT_TRUE(p.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").empty());
}

}  // namespace
