// The strict HTTP/1.1 request parser (see request_parser.hpp). One pass over
// the bytes at hand, from the start each time more arrive: requests are
// small (the limits bound them), and a parser without saved state cannot
// disagree with itself about where a request ends however the bytes are cut.
//
// Every check looks only at bytes before the position where it fails, in
// order, so a prefix of the input either fails the same way as the whole or
// is incomplete.
#include "request_parser.hpp"

#include <cstdint>
#include <optional>
#include <utility>

namespace http {

namespace {

// tchar (RFC 9110 §5.6.2): the characters of a token.
bool is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~':
            return true;
        default:
            return false;
    }
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

bool is_hex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
}

// The characters a URI may hold outside percent-encoding (RFC 3986):
// unreserved, sub-delims, and the delimiters of paths, queries and hosts.
bool is_uri_char(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '-':
        case '.':
        case '_':
        case '~':  // unreserved
        case '!':
        case '$':
        case '&':
        case '\'':
        case '(':
        case ')':  // sub-delims
        case '*':
        case '+':
        case ',':
        case ';':
        case '=':
        case ':':
        case '@':
        case '/':
        case '?':  // pchar, path, query
            return true;
        default:
            return false;
    }
}

// URI characters, each '%' followed by two hex digits; `brackets` admits
// an IPv6 literal's '[' and ']'.
bool valid_uri_chars(std::string_view s, bool brackets) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '%') {
            if (i + 2 >= s.size()) return false;
            if (!is_hex(static_cast<unsigned char>(s[i + 1])) ||
                !is_hex(static_cast<unsigned char>(s[i + 2])))
                return false;
            i += 2;
        } else if (!is_uri_char(c) && !(brackets && (c == '[' || c == ']'))) {
            return false;
        }
    }
    return true;
}

bool ascii_iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// The elements of a comma-separated list (RFC 9110 §5.6.1), trimmed.
std::vector<std::string_view> list_elements(std::string_view s) {
    std::vector<std::string_view> out;
    for (;;) {
        std::size_t comma = s.find(',');
        out.push_back(trim_ows(s.substr(0, comma)));
        if (comma == std::string_view::npos) return out;
        s.remove_prefix(comma + 1);
    }
}

struct failure {
    int status;
    std::string what;
};

// One line of the input: [begin, end) without its CRLF; `next` follows it.
struct line {
    std::size_t begin = 0, end = 0, next = 0;
};

class parser {
public:
    parser(std::string_view data, const parse_limits& limits) : d_(data), limits_(limits) {}

    parse_result run() {
        parse_result r;
        try {
            if (!parse(r.req)) return r;  // incomplete
            r.status = parse_status::complete;
            r.consumed = pos_;
        } catch (failure& f) {
            r = parse_result{};
            r.status = parse_status::error;
            r.error_status = f.status;
            r.error = std::move(f.what);
        }
        return r;
    }

private:
    [[noreturn]] static void fail(int status, std::string what) {
        throw failure{status, std::move(what)};
    }

    // The line starting at pos_, at most `max_len` bytes before its CRLF
    // (else `too_long`), or nothing when the input ends first.
    std::optional<line> next_line(std::size_t max_len, int too_long, const char* what) {
        for (std::size_t i = pos_; i < d_.size(); ++i) {
            char c = d_[i];
            if (c == '\r') {
                if (i + 1 == d_.size()) return std::nullopt;
                if (d_[i + 1] != '\n') fail(400, std::string("bare CR in the ") + what);
                return line{pos_, i, i + 2};
            }
            if (c == '\n') fail(400, std::string("bare LF (no CR) ending the ") + what);
            if (i - pos_ >= max_len) {
                fail(too_long, std::string("the ") + what + " is longer than " +
                                   std::to_string(max_len) + " bytes");
            }
        }
        return std::nullopt;
    }

    std::string_view text(const line& l) const { return d_.substr(l.begin, l.end - l.begin); }

    bool parse(request& req) {
        // RFC 9112 §2.2: empty lines before a request line are ignored (a
        // client's stray CRLF after a body); a few, not without bound.
        for (int skipped = 0;
             skipped < 4 && pos_ + 1 < d_.size() && d_[pos_] == '\r' && d_[pos_ + 1] == '\n';
             ++skipped)
            pos_ += 2;
        auto request_line = next_line(limits_.max_request_line, 414, "request line");
        if (!request_line) return false;
        parse_request_line(text(*request_line), req);
        pos_ = request_line->next;

        if (!parse_fields(req.headers, "header section")) return false;
        return parse_framing(req);
    }

    // RFC 9112 §3: method SP request-target SP HTTP-version, single spaces.
    void parse_request_line(std::string_view l, request& req) {
        if (l.empty()) fail(400, "empty request line");
        std::size_t sp1 = l.find(' ');
        std::string_view method = l.substr(0, sp1);
        if (!is_token(method)) fail(400, "the method is not a token");
        if (sp1 == std::string_view::npos) fail(400, "request line has no request-target");
        std::string_view rest = l.substr(sp1 + 1);
        std::size_t sp2 = rest.find(' ');
        std::string_view target = rest.substr(0, sp2);
        if (target.empty()) fail(400, "empty request-target (or more than one space)");
        if (sp2 == std::string_view::npos) fail(400, "request line has no HTTP version");
        std::string_view version = rest.substr(sp2 + 1);
        if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[5] < '0' ||
            version[5] > '9' || version[6] != '.' || version[7] < '0' || version[7] > '9') {
            fail(400, "malformed HTTP version (or a space in the request-target)");
        }
        if (version[5] != '1' || version[7] > '1') {
            fail(505, "HTTP version " + std::string(version.substr(5)) + " is not supported");
        }
        check_target(method, target);
        req.method = std::string(method);
        req.target = std::string(target);
        req.version_minor = version[7] - '0';
    }

    // RFC 9112 §3.2: origin-form, absolute-form, authority-form (CONNECT
    // only) or asterisk-form (OPTIONS only). No fragment, no whitespace, no
    // control or non-ASCII bytes.
    static void check_target(std::string_view method, std::string_view target) {
        if (method == "CONNECT") {
            // authority-form: host ":" port.
            std::size_t colon = target.rfind(':');
            bool ok = colon != std::string_view::npos && colon > 0 && colon + 1 < target.size() &&
                      target.find_first_of("/?#@") == std::string_view::npos &&
                      valid_uri_chars(target, true);
            for (std::size_t i = colon + 1; ok && i < target.size(); ++i)
                ok = target[i] >= '0' && target[i] <= '9';
            if (!ok) fail(400, "CONNECT needs an authority-form request-target (host:port)");
            return;
        }
        if (target == "*") {
            if (method != "OPTIONS") fail(400, "the asterisk-form request-target is for OPTIONS");
            return;
        }
        if (target.front() == '/') {
            if (!valid_uri_chars(target, false))
                fail(400, "invalid character in the request-target");
            return;
        }
        // absolute-form: scheme ":" hier-part.
        std::size_t colon = target.find(':');
        bool scheme_ok =
            colon != std::string_view::npos && colon > 0 &&
            ((target[0] >= 'a' && target[0] <= 'z') || (target[0] >= 'A' && target[0] <= 'Z'));
        for (std::size_t i = 1; scheme_ok && i < colon; ++i) {
            auto c = static_cast<unsigned char>(target[i]);
            scheme_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
        }
        if (!scheme_ok || !valid_uri_chars(target, true)) {
            fail(400, "invalid request-target (neither a path nor an absolute URI)");
        }
    }

    // Header (or trailer) fields up to the empty line; false if the input
    // ends first.
    bool parse_fields(std::vector<header>& out, const char* section) {
        std::size_t start = pos_;
        for (;;) {
            std::size_t used = pos_ - start;
            std::size_t budget =
                used < limits_.max_header_bytes ? limits_.max_header_bytes - used : 0;
            auto l = next_line(budget, 431, section);
            if (!l) return false;
            pos_ = l->next;
            std::string_view field = text(*l);
            if (field.empty()) return true;
            if (field.front() == ' ' || field.front() == '\t') {
                fail(400, "obsolete line folding (a field line starting with whitespace)");
            }
            std::size_t colon = field.find(':');
            if (colon == std::string_view::npos) fail(400, "a field line without a colon");
            std::string_view name = field.substr(0, colon);
            if (name.empty()) fail(400, "a field line with an empty name");
            if (name.back() == ' ' || name.back() == '\t') {
                fail(400, "whitespace between a field name and its colon");
            }
            if (!is_token(name)) fail(400, "invalid character in a field name");
            std::string_view value = trim_ows(field.substr(colon + 1));
            for (unsigned char c : value) {
                // field-vchar, SP, HTAB (RFC 9110 §5.5): no other control.
                if ((c < 0x20 && c != '\t') || c == 0x7f) {
                    fail(400, "control character in the value of " + std::string(name));
                }
            }
            if (out.size() == limits_.max_headers) {
                fail(431, "more than " + std::to_string(limits_.max_headers) + " fields");
            }
            out.push_back(header{std::string(name), std::string(value)});
        }
    }

    // RFC 9112 §6: how long the body is, then the body.
    bool parse_framing(request& req) {
        bool http11 = req.version_minor == 1;
        std::size_t hosts = 0;
        std::optional<std::uint64_t> length;
        std::vector<std::string_view> codings;
        bool transfer_encoding = false;
        bool close = false, keep_alive = false;
        for (const header& h : req.headers) {
            if (ascii_iequal(h.name, "host")) {
                ++hosts;
            } else if (ascii_iequal(h.name, "content-length")) {
                for (std::string_view v : list_elements(h.value)) {
                    std::uint64_t n = 0;
                    if (v.empty()) fail(400, "empty Content-Length");
                    for (char c : v) {
                        if (c < '0' || c > '9') fail(400, "Content-Length is not a number");
                        // Saturates: past max_body the value only has to stay too large.
                        if (n <= limits_.max_body) n = n * 10 + static_cast<std::uint64_t>(c - '0');
                    }
                    if (length && *length != n) fail(400, "conflicting Content-Length values");
                    length = n;
                }
            } else if (ascii_iequal(h.name, "transfer-encoding")) {
                transfer_encoding = true;
                for (std::string_view v : list_elements(h.value))
                    codings.push_back(v);
            } else if (ascii_iequal(h.name, "connection")) {
                for (std::string_view v : list_elements(h.value)) {
                    if (ascii_iequal(v, "close")) close = true;
                    if (ascii_iequal(v, "keep-alive")) keep_alive = true;
                }
            }
        }
        if (http11 && hosts != 1) {
            fail(400, hosts == 0 ? "an HTTP/1.1 request without Host" : "more than one Host field");
        }
        if (hosts > 1) fail(400, "more than one Host field");
        req.keep_alive = !close && (http11 || keep_alive);

        if (transfer_encoding) {
            // Both framings at once is how requests are smuggled past a proxy.
            if (length) fail(400, "both Transfer-Encoding and Content-Length");
            if (!http11) fail(400, "Transfer-Encoding in an HTTP/1.0 request");
            std::size_t chunked = 0;
            for (std::string_view c : codings) {
                if (c.empty()) fail(400, "an empty transfer coding");
                if (!ascii_iequal(c, "chunked")) {
                    fail(501, "transfer coding '" + std::string(c) + "' is not implemented");
                }
                ++chunked;
            }
            if (chunked != 1) fail(400, "chunked applied more than once");
            return parse_chunked(req);
        }
        if (length) {
            if (*length > limits_.max_body) {
                fail(413, "a body longer than " + std::to_string(limits_.max_body) + " bytes");
            }
            auto n = static_cast<std::size_t>(*length);
            if (d_.size() - pos_ < n) return false;
            req.body = std::string(d_.substr(pos_, n));
            pos_ += n;
        }
        return true;
    }

    // RFC 9112 §7.1: chunk-size [chunk-ext] CRLF chunk-data CRLF ... then
    // last-chunk, trailer fields (checked, then dropped) and CRLF.
    bool parse_chunked(request& req) {
        for (;;) {
            auto l = next_line(1024, 400, "chunk header");
            if (!l) return false;
            std::string_view s = text(*l);
            std::size_t i = 0;
            std::uint64_t size = 0;
            while (i < s.size() && is_hex(static_cast<unsigned char>(s[i]))) {
                size = size * 16 +
                       static_cast<std::uint64_t>(hex_value(static_cast<unsigned char>(s[i])));
                if (size > limits_.max_body || size > (UINT64_MAX >> 4)) {
                    fail(413, "a body longer than " + std::to_string(limits_.max_body) + " bytes");
                }
                ++i;
            }
            if (i == 0) fail(400, "a chunk header without a size");
            std::string_view ext = s.substr(i);
            std::size_t semi = ext.find_first_not_of(" \t");
            if (semi != std::string_view::npos) {
                if (ext[semi] != ';') fail(400, "junk after a chunk size");
                for (unsigned char c : ext) {
                    if ((c < 0x20 && c != '\t') || c == 0x7f) {
                        fail(400, "control character in a chunk extension");
                    }
                }
            }
            if (req.body.size() + size > limits_.max_body) {
                fail(413, "a body longer than " + std::to_string(limits_.max_body) + " bytes");
            }
            pos_ = l->next;
            if (size == 0) break;
            auto n = static_cast<std::size_t>(size);
            if (d_.size() - pos_ < n) return false;
            req.body.append(d_.substr(pos_, n));
            pos_ += n;
            if (d_.size() - pos_ < 1) return false;
            if (d_[pos_] != '\r') fail(400, "chunk data longer than its size");
            if (d_.size() - pos_ < 2) return false;
            if (d_[pos_ + 1] != '\n') fail(400, "bare CR after chunk data");
            pos_ += 2;
        }
        std::vector<header> trailers;
        return parse_fields(trailers, "trailer section");
    }

    std::string_view d_;
    const parse_limits& limits_;
    std::size_t pos_ = 0;
};

}  // namespace

const header* request::find(std::string_view name) const {
    for (const header& h : headers)
        if (ascii_iequal(h.name, name)) return &h;
    return nullptr;
}

parse_result parse_request(std::string_view data, const parse_limits& limits) {
    return parser(data, limits).run();
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 431:
            return "Request Header Fields Too Large";
        case 501:
            return "Not Implemented";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

std::vector<request> request_parser::feed(std::string_view data) {
    std::vector<request> out;
    if (failed()) return out;
    buf_.append(data);
    std::size_t used = 0;
    for (;;) {
        parse_result r = parse_request(std::string_view(buf_).substr(used), limits_);
        if (r.status == parse_status::complete) {
            out.push_back(std::move(r.req));
            used += r.consumed;
            continue;
        }
        if (r.status == parse_status::error) {
            status_ = r.error_status;
            error_ = std::move(r.error);
            buf_.clear();
            used = 0;
        }
        break;
    }
    buf_.erase(0, used);
    return out;
}

}  // namespace http
