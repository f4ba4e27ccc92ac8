// Fuzz target: stream_reader's readline, readuntil, readexactly and read
// over random input in random chunks, checked step by step against a model:
// a plain std::string buffer and asyncio.StreamReader's rules for what each
// call returns or raises (LimitOverrunError -> limit_overrun_error,
// IncompleteReadError -> incomplete_read_error, readline's ValueError ->
// std::invalid_argument).
//
// The reader is fed by hand (feed_data/feed_eof/set_exception), the seam
// asyncio's own tests use: the same buffer and the same readuntil/readexactly
// code as a reader over a socket, with the order of arrivals fixed by the
// input rather than by the kernel. One event loop runs every input.
//
// The input is a program: byte 0 picks the reader's limit, then each op byte
// is followed by its operands. A read starts as a task of its own; after each
// op the loop runs until the model says the pending read is done (it must
// be, with the model's outcome) or a few iterations (it must still wait).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <weft/io/errors.hpp>
#include <weft/io/stream.hpp>
#include <weft/run.hpp>
#include <weft/sleep.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

namespace {

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz_stream_reader: %s\n", what.c_str());
    std::abort();
}

// What a read ended with.
struct outcome {
    enum kind_t { value, incomplete, overrun, line_too_long, failed, busy, bad_argument } kind;
    std::string bytes;   // value: the result; incomplete: partial()
    std::size_t n = 0;   // overrun: consumed(); incomplete: expected() (npos: none)
    bool found = false;  // overrun: whether the separator was found
    bool operator==(const outcome&) const = default;
};

std::string show(const outcome& o) {
    static const char* names[] = {"value",  "incomplete", "overrun",     "line_too_long",
                                  "failed", "busy",       "bad_argument"};
    return std::string(names[o.kind]) + " bytes=" + std::to_string(o.bytes.size()) +
           " n=" + std::to_string(o.n) + " found=" + std::to_string(o.found);
}

struct op {
    enum kind_t { readline, readuntil, readexactly, read } kind;
    std::string sep;       // readuntil
    std::ptrdiff_t n = 0;  // readexactly, read
    std::string acc;       // read(-1): what it has taken so far
};

// asyncio.StreamReader, on a std::string.
struct model {
    std::string buf;
    bool eof = false;
    bool failed = false;
    std::size_t limit;

    std::string take(std::size_t n) {
        std::string out = buf.substr(0, n);
        buf.erase(0, n);
        return out;
    }

    std::optional<outcome> readuntil(const std::string& sep) {
        if (failed) return outcome{outcome::failed, {}};
        if (buf.size() >= sep.size()) {
            std::size_t isep = buf.find(sep);
            if (isep != std::string::npos) {
                if (isep > limit) return outcome{outcome::overrun, {}, isep, true};
                return outcome{outcome::value, take(isep + sep.size())};
            }
            std::size_t offset = buf.size() + 1 - sep.size();
            if (offset > limit) return outcome{outcome::overrun, {}, offset, false};
        }
        if (eof) return outcome{outcome::incomplete, take(buf.size()), std::string::npos};
        return std::nullopt;
    }

    std::optional<outcome> readline() {
        std::optional<outcome> o = readuntil("\n");
        if (!o) return o;
        if (o->kind == outcome::incomplete) return outcome{outcome::value, std::move(o->bytes)};
        if (o->kind == outcome::overrun) {
            // Drop the overlong line, with its '\n' if that is next.
            if (buf.compare(std::min(o->n, buf.size()), 1, "\n") == 0) {
                buf.erase(0, o->n + 1);
            } else {
                buf.clear();
            }
            return outcome{outcome::line_too_long, {}, o->n, o->found};
        }
        return o;
    }

    std::optional<outcome> readexactly(std::size_t n) {
        if (failed) return outcome{outcome::failed, {}};
        if (n == 0) return outcome{outcome::value, {}};
        if (buf.size() >= n) return outcome{outcome::value, take(n)};
        if (eof) return outcome{outcome::incomplete, take(buf.size()), n};
        return std::nullopt;
    }

    std::optional<outcome> read(std::ptrdiff_t n, std::string& acc) {
        if (failed) return outcome{outcome::failed, {}};
        if (n == 0) return outcome{outcome::value, {}};
        if (n < 0) {
            acc += take(buf.size());  // read() takes what is there as it goes
            if (eof) return outcome{outcome::value, std::move(acc)};
            return std::nullopt;
        }
        if (!buf.empty() || eof) return outcome{outcome::value, take(static_cast<std::size_t>(n))};
        return std::nullopt;
    }

    std::optional<outcome> step(op& o) {
        switch (o.kind) {
            case op::readline:
                return readline();
            case op::readuntil:
                return readuntil(o.sep);
            case op::readexactly:
                return readexactly(static_cast<std::size_t>(o.n));
            case op::read:
                return read(o.n, o.acc);
        }
        return std::nullopt;
    }
};

// How a finished read task ended, in the model's terms.
outcome observe(const weft::task_handle<std::string>& t) {
    try {
        return outcome{outcome::value, t.result()};
    } catch (const weft::incomplete_read_error& e) {
        return outcome{outcome::incomplete, e.partial(), e.expected().value_or(std::string::npos)};
    } catch (const weft::limit_overrun_error& e) {
        bool found = std::string(e.what()).find("Separator is found") != std::string::npos;
        return outcome{outcome::overrun, {}, e.consumed(), found};
    } catch (const std::invalid_argument& e) {
        std::string what = e.what();
        if (what.find("readline") != std::string::npos) {
            bool found = what.find("Separator is found") != std::string::npos;
            // consumed() is not carried by the ValueError; the model's is
            // compared through the buffer that is left.
            return outcome{outcome::line_too_long, {}, std::string::npos, found};
        }
        return outcome{outcome::bad_argument, {}};
    } catch (const std::logic_error&) {
        return outcome{outcome::busy, {}};
    } catch (const std::runtime_error& e) {
        if (std::string(e.what()) == "fuzz: set_exception") return outcome{outcome::failed, {}};
        fail(std::string("a read raised an unexpected error: ") + e.what());
    }
}

// Reads the input as a program.
class input {
public:
    input(const std::uint8_t* p, std::size_t n) : p_(p), end_(p + n) {}
    bool empty() const { return p_ == end_; }
    std::uint8_t byte() { return p_ == end_ ? 0 : *p_++; }
    std::string bytes(std::size_t n) {
        n = std::min(n, static_cast<std::size_t>(end_ - p_));
        std::string out(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        return out;
    }

private:
    const std::uint8_t* p_;
    const std::uint8_t* end_;
};

weft::task<std::string> start(weft::stream_reader& r, const op& o) {
    switch (o.kind) {
        case op::readline:
            return r.readline();
        case op::readuntil:
            return r.readuntil(o.sep);
        case op::readexactly:
            return r.readexactly(static_cast<std::size_t>(o.n));
        case op::read:
            break;
    }
    return r.read(o.n);
}

class driver {
public:
    driver(std::size_t limit) : r_(limit), m_{{}, false, false, limit} {}

    weft::task<void> run(input in) {
        while (!in.empty()) {
            // The ops are decoded here and awaited below, outside the switch:
            // GCC 12 relocates a temporary with a destructor (an op) that is
            // made in a co_await expression under a case label, then frees
            // it from its old address.
            std::optional<op> read = next(in);
            if (read) co_await begin(std::move(*read));
            co_await settle();
        }
        if (pending_) {
            // The end of the stream finishes every read.
            if (!m_.eof) {
                r_.feed_eof();
                m_.eof = true;
            }
            co_await settle();
            if (pending_) fail("a read still waits after the end of the stream");
        }
        check_buffer();
    }

private:
    // Carries out the next op that is not a read; returns the read to start.
    std::optional<op> next(input& in) {
        std::uint8_t code = in.byte();
        switch (code % 16) {
            case 0:
            case 1:
            case 2:
            case 3: {  // data, in chunks of up to 32 bytes
                std::string chunk = in.bytes(in.byte() % 33);
                bool refused = false;
                try {
                    r_.feed_data(chunk);
                } catch (const std::logic_error&) {
                    refused = true;
                }
                if (refused != m_.eof) fail("feed_data after feed_eof: refused iff at eof");
                if (!refused) m_.buf += chunk;
                return std::nullopt;
            }
            case 4:
                r_.feed_eof();
                m_.eof = true;
                return std::nullopt;
            case 5:
            case 6:
                return op{op::readline, {}, 0, {}};
            case 7:
            case 8:  // a separator of 0 to 4 bytes (0: refused)
                return op{op::readuntil, in.bytes(in.byte() % 5), 0, {}};
            case 9:
            case 10:
                return op{op::readexactly, {}, in.byte() % 48, {}};
            case 11:
            case 12:  // -1 (everything) to 46
                return op{op::read, {}, static_cast<std::ptrdiff_t>(in.byte() % 48) - 1, {}};
            case 13:
                if (code == 0xfd) {  // rarely: every read raises from now on
                    r_.set_exception(
                        std::make_exception_ptr(std::runtime_error("fuzz: set_exception")));
                    m_.failed = true;
                }
                return std::nullopt;
            default:
                if (!pending_) check_buffer();
                return std::nullopt;
        }
    }

    void check_buffer() {
        if (r_.buffered() != m_.buf.size()) {
            fail("buffered() is " + std::to_string(r_.buffered()) + ", the model holds " +
                 std::to_string(m_.buf.size()));
        }
        if (r_.at_eof() != (m_.eof && m_.buf.empty())) fail("at_eof() disagrees with the model");
    }

    // Starts a read. While another is pending it must be refused.
    weft::task<void> begin(op o) {
        weft::task_handle<std::string> t = weft::create_task(start(r_, o));
        std::optional<outcome> expected;
        if (o.kind == op::readuntil && o.sep.empty()) {
            expected = outcome{outcome::bad_argument, {}};
        } else if (pending_) {
            expected = outcome{outcome::busy, {}};
        } else {
            pending_.emplace(std::move(o), std::move(t));
            co_return;  // settle() follows
        }
        co_await finish(t, *expected, "a refused read");
    }

    // Runs the loop until the pending read is done if the model says it is
    // by now, or for a few iterations if it says it still waits.
    weft::task<void> settle() {
        if (!pending_) co_return;
        std::optional<outcome> expected = m_.step(pending_->first);
        if (!expected) {
            for (int i = 0; i < 4; ++i)
                co_await weft::sleep(0);
            if (pending_->second.done()) {
                fail("a read finished (" + show(observe(pending_->second)) +
                     ") where the model waits for more data");
            }
            co_return;
        }
        auto t = std::move(pending_->second);
        pending_.reset();
        co_await finish(t, *expected, "a read");
    }

    weft::task<void> finish(weft::task_handle<std::string>& t, outcome expected, const char* what) {
        for (int i = 0; i < 64 && !t.done(); ++i)
            co_await weft::sleep(0);
        if (!t.done())
            fail(std::string(what) + " still waits where the model has " + show(expected));
        outcome got = observe(t);
        if (expected.kind == outcome::line_too_long) expected.n = std::string::npos;
        if (!(got == expected)) {
            fail(std::string(what) + " gave " + show(got) + ", the model " + show(expected));
        }
        check_buffer();
    }

    weft::stream_reader r_;
    model m_;
    std::optional<std::pair<op, weft::task_handle<std::string>>> pending_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // One loop for every input (asyncio mode: one thread, a fixed order).
    static weft::runner runner(weft::run_options{.threads = 1});
    if (size == 0) return 0;
    input in(data, size);
    // Small limits, where the overrun rules are reached; sometimes the default.
    std::uint8_t l = in.byte();
    std::size_t limit = l == 0xff ? weft::default_stream_limit : 1 + l % 40;
    driver d(limit);
    runner.run(d.run(in));
    return 0;
}
