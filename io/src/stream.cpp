// stream_reader (asyncio.StreamReader's algorithms over a pulled buffer),
// stream_writer (a handle on the transport's write side), open_connection.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>

#include <netinet/in.h>

#include <weft/detail/budget_yield.hpp>
#include <weft/detail/thread_context.hpp>
#include <weft/future.hpp>
#include <weft/io/resolver.hpp>
#include <weft/io/stream.hpp>
#include <weft/sleep.hpp>

#include "fd_transport.hpp"
#include "io_wait.hpp"
#include "scratch.hpp"
#include "stream_link.hpp"
#include "transport.hpp"
#if WEFT_HAVE_TLS
#include <weft/tls/ssl_context.hpp>

#include "tls_transport.hpp"
#endif

namespace weft {

namespace detail {

// A reader's state. The reading task alone receives; `mutex` guards what
// feed_data/feed_eof/set_exception (any task, any worker) touch too.
struct reader_state {
    reader_state(std::size_t lim, std::shared_ptr<stream_link> l)
        : limit(lim), link(std::move(l)) {}

    const std::size_t limit;
    const std::shared_ptr<stream_link> link;  // null: fed by hand

    mutable std::mutex mutex;
    std::string buf;  // received bytes, unread from `pos` on
    std::size_t pos = 0;
    bool eof = false;
    std::exception_ptr error;
    std::optional<future<void>> waiter;  // a hand-fed reader waiting for data
    std::atomic<bool> reading{false};

    // ---- under the mutex
    std::size_t size() const noexcept { return buf.size() - pos; }
    std::string_view view() const noexcept { return std::string_view(buf).substr(pos); }
    std::string take(std::size_t n) {
        n = std::min(n, size());
        std::string out = buf.substr(pos, n);
        consume(n);
        return out;
    }
    void consume(std::size_t n) noexcept {
        pos += n;
        if (pos == buf.size()) {
            // Idle connections hold no buffer: drop a big one once empty.
            if (buf.capacity() > 4096) {
                std::string().swap(buf);
            } else {
                buf.clear();
            }
            pos = 0;
        }
    }
    void append(const char* p, std::size_t n) {
        if (pos > 0 && pos >= buf.size() / 2) {
            buf.erase(0, pos);
            pos = 0;
        }
        buf.append(p, n);
    }
    void rethrow_if_failed() const {
        if (error) std::rethrow_exception(error);
    }
};

namespace {

// One task reads at a time (asyncio raises RuntimeError otherwise).
class read_guard {
public:
    read_guard(reader_state& s, const char* what) : s_(s) {
        // acquire/release: the buffer, touched by successive readers that may
        // run on different workers, passes from one to the next through here.
        if (s.reading.exchange(true, std::memory_order_acquire)) {
            throw std::logic_error(std::string("weft::stream_reader::") + what +
                                   "() called while another task is already waiting for "
                                   "incoming data");
        }
    }
    ~read_guard() { s_.reading.store(false, std::memory_order_release); }
    read_guard(const read_guard&) = delete;
    read_guard& operator=(const read_guard&) = delete;

private:
    reader_state& s_;
};

std::string op_name(const char* what) {
    return std::string("weft::stream_reader::") + what;
}

// Receives once from the transport, up to `max` bytes: into the buffer when
// `append`, else returned. "" (and eof set) at the end of the stream.
task<std::string> receive(std::shared_ptr<reader_state> s, const char* what, std::size_t max,
                          bool append) {
    transport& t = s->link->get();
    io_handle h = t.handle();
    max = std::min(max, scratch_size);
    // Closed under the read: by an error (raised, and by every later read),
    // or by a close.
    auto raise_closed = [&](const char* how) {
        if (std::exception_ptr failed = t.failure()) {
            std::lock_guard lock(s->mutex);
            if (!s->error) s->error = failed;
            std::rethrow_exception(s->error);
        }
        throw closed_error(op_name(what) + how);
    };
    for (;;) {
        io_attempt a = t.try_receive(scratch_buffer(), max);
        if (a.closed) raise_closed(": the stream is closed");
        if (a.again) {
            // The server is closing its clients gracefully: nothing more is
            // read once what arrived is consumed. Read after a.seq, so that
            // stop_reading's flag, set before its edge, is seen here or its
            // edge ends the wait below.
            if (t.reads_stopped()) {
                std::lock_guard lock(s->mutex);
                s->eof = true;
                co_return std::string();
            }
            if (!co_await io_wait(h, io_dir::read, a.seq)) {
                raise_closed(": the stream was closed during the read");
            }
            continue;
        }
        std::string out;
        {
            std::lock_guard lock(s->mutex);
            if (a.n < 0) {
                // The connection failed (reset): this read and every later
                // one raise it, as asyncio's connection_lost(exc) makes them.
                try {
                    throw_io_error(op_name(what).c_str(), a.err);
                } catch (...) {
                    if (!s->error) s->error = std::current_exception();
                }
                std::rethrow_exception(s->error);
            }
            if (a.n == 0) {
                s->eof = true;
            } else if (append) {
                s->append(scratch_buffer(), static_cast<std::size_t>(a.n));
            } else {
                out.assign(scratch_buffer(), static_cast<std::size_t>(a.n));
            }
        }
        co_await budget_yield{};  // not a cancellation point: `out` holds the bytes
        co_return out;
    }
}

// asyncio's _wait_for_data: returns once the buffer grew, the stream ended,
// or an exception was set.
task<void> wait_for_data(std::shared_ptr<reader_state> s, const char* what) {
    if (s->link) {
        co_await receive(s, what, scratch_size, true);
        co_return;
    }
    future<void> w;
    {
        std::lock_guard lock(s->mutex);
        if (s->eof || s->error) co_return;
        s->waiter = w;
    }
    co_await w;
}

task<std::string> do_read(std::shared_ptr<reader_state> s, std::ptrdiff_t n) {
    read_guard guard(*s, "read");
    {
        std::lock_guard lock(s->mutex);
        s->rethrow_if_failed();
        if (n == 0) co_return std::string();
        if (n > 0 && s->size() > 0) co_return s->take(static_cast<std::size_t>(n));
    }
    if (n < 0) {
        // Everything until the end of the stream.
        std::string all;
        for (;;) {
            {
                std::lock_guard lock(s->mutex);
                s->rethrow_if_failed();
                all += s->take(s->size());
                if (s->eof) co_return all;
            }
            co_await wait_for_data(s, "read");
        }
    }
    if (s->link) {
        // The buffer is empty: receive straight into the result.
        {
            std::lock_guard lock(s->mutex);
            if (s->eof) co_return std::string();
        }
        co_return co_await receive(s, "read", static_cast<std::size_t>(n), false);
    }
    for (;;) {
        {
            std::lock_guard lock(s->mutex);
            s->rethrow_if_failed();
            if (s->size() > 0 || s->eof) co_return s->take(static_cast<std::size_t>(n));
        }
        co_await wait_for_data(s, "read");
    }
}

// asyncio.StreamReader.readuntil, step by step.
task<std::string> do_readuntil(std::shared_ptr<reader_state> s, std::string sep, const char* what) {
    std::size_t offset = 0;
    std::size_t isep = std::string::npos;
    for (;;) {
        {
            std::lock_guard lock(s->mutex);
            s->rethrow_if_failed();
            std::size_t buflen = s->size();
            if (buflen >= offset + sep.size()) {
                isep = s->view().find(sep, offset);
                if (isep != std::string::npos) {
                    if (isep > s->limit) {
                        throw limit_overrun_error(
                            "Separator is found, but chunk is longer than limit", isep);
                    }
                    co_return s->take(isep + sep.size());
                }
                // Where the separator could still start once more comes in.
                offset = buflen + 1 - sep.size();
                if (offset > s->limit) {
                    throw limit_overrun_error("Separator is not found, and chunk exceed the limit",
                                              offset);
                }
            }
            if (s->eof) throw incomplete_read_error(s->take(s->size()), std::nullopt);
        }
        co_await wait_for_data(s, what);
    }
}

task<std::string> readuntil_op(std::shared_ptr<reader_state> s, std::string sep) {
    if (sep.empty()) {
        throw std::invalid_argument("weft::stream_reader::readuntil: the separator is empty");
    }
    read_guard guard(*s, "readuntil");
    co_return co_await do_readuntil(s, std::move(sep), "readuntil");
}

task<std::string> readline_op(std::shared_ptr<reader_state> s) {
    read_guard guard(*s, "readline");
    std::string partial;
    std::optional<limit_overrun_error> overrun;
    try {
        co_return co_await do_readuntil(s, "\n", "readline");
    } catch (const incomplete_read_error& e) {
        partial = e.partial();
    } catch (const limit_overrun_error& e) {
        overrun.emplace(e);
    }
    if (overrun) {
        // asyncio: drop the overlong line (with its '\n' if it is there).
        std::lock_guard lock(s->mutex);
        if (s->view().substr(overrun->consumed(), 1) == "\n") {
            s->consume(overrun->consumed() + 1);
        } else {
            s->consume(s->size());
        }
        throw std::invalid_argument(std::string("weft::stream_reader::readline: ") +
                                    overrun->what());
    }
    co_return partial;
}

task<std::string> readexactly_op(std::shared_ptr<reader_state> s, std::size_t n) {
    read_guard guard(*s, "readexactly");
    if (n == 0) {
        std::lock_guard lock(s->mutex);
        s->rethrow_if_failed();
        co_return std::string();
    }
    for (;;) {
        {
            std::lock_guard lock(s->mutex);
            s->rethrow_if_failed();
            if (s->size() >= n) co_return s->take(n);
            if (s->eof) throw incomplete_read_error(s->take(s->size()), n);
        }
        co_await wait_for_data(s, "readexactly");
    }
}

}  // namespace

}  // namespace detail

// ---- stream_reader

stream_reader::stream_reader(std::size_t limit)
    : s_(std::make_shared<detail::reader_state>(limit, nullptr)) {
    if (limit == 0) throw std::invalid_argument("weft::stream_reader: the limit must be positive");
}

stream_reader::stream_reader(std::shared_ptr<detail::transport> t, std::size_t limit)
    : stream_reader(std::make_shared<detail::stream_link>(std::move(t)), limit) {}

stream_reader::stream_reader(std::shared_ptr<detail::stream_link> link, std::size_t limit)
    : s_(std::make_shared<detail::reader_state>(limit, link)) {
    if (limit == 0) throw std::invalid_argument("weft::stream_reader: the limit must be positive");
    std::lock_guard lock(link->mutex);
    link->reader = s_;
}

task<std::string> stream_reader::read(std::ptrdiff_t n) {
    return detail::do_read(s_, n);
}
task<std::string> stream_reader::readline() {
    return detail::readline_op(s_);
}
task<std::string> stream_reader::readuntil(std::string separator) {
    return detail::readuntil_op(s_, std::move(separator));
}
task<std::string> stream_reader::readexactly(std::size_t n) {
    return detail::readexactly_op(s_, n);
}

bool stream_reader::at_eof() const {
    std::lock_guard lock(s_->mutex);
    return s_->eof && s_->size() == 0;
}

void stream_reader::feed_data(std::string_view data) {
    std::optional<future<void>> w;
    {
        std::lock_guard lock(s_->mutex);
        if (s_->eof) throw std::logic_error("weft::stream_reader::feed_data: after feed_eof()");
        if (data.empty()) return;
        s_->append(data.data(), data.size());
        w.swap(s_->waiter);
    }
    if (w) w->try_set_result();
}

void stream_reader::feed_eof() {
    std::optional<future<void>> w;
    {
        std::lock_guard lock(s_->mutex);
        s_->eof = true;
        w.swap(s_->waiter);
    }
    if (w) w->try_set_result();
}

void stream_reader::set_exception(std::exception_ptr e) {
    std::optional<future<void>> w;
    {
        std::lock_guard lock(s_->mutex);
        s_->error = std::move(e);
        w.swap(s_->waiter);
    }
    if (w) w->try_set_result();
}

std::exception_ptr stream_reader::exception() const {
    std::lock_guard lock(s_->mutex);
    return s_->error;
}

std::size_t stream_reader::limit() const noexcept {
    return s_->limit;
}

std::size_t stream_reader::buffered() const {
    std::lock_guard lock(s_->mutex);
    return s_->size();
}

// ---- stream_writer

stream_writer::stream_writer(std::shared_ptr<detail::transport> t)
    : l_(std::make_shared<detail::stream_link>(std::move(t))) {}

stream_writer::stream_writer(std::shared_ptr<detail::stream_link> link) noexcept
    : l_(std::move(link)) {}

detail::transport& stream_writer::t() const {
    if (!l_) throw std::logic_error("weft::stream_writer: no stream (default-constructed)");
    return l_->get();
}

void stream_writer::write(std::string_view data) {
    t().write(data);
}
task<void> stream_writer::drain() {
    return t().drain();
}
void stream_writer::write_eof() {
    t().write_eof();
}
bool stream_writer::can_write_eof() const {
    return t().can_write_eof();
}
void stream_writer::close() {
    t().close();
}
void stream_writer::abort() {
    t().abort();
}
bool stream_writer::is_closing() const {
    return t().is_closing();
}
task<void> stream_writer::wait_closed() {
    return t().wait_closed();
}
socket_address stream_writer::peername() const {
    return t().peername();
}
socket_address stream_writer::sockname() const {
    return t().sockname();
}
std::size_t stream_writer::write_buffer_size() const {
    return t().write_buffer_size();
}

void stream_writer::set_write_buffer_limits(std::optional<std::size_t> high,
                                            std::optional<std::size_t> low) {
    // asyncio's _set_write_buffer_limits.
    std::size_t h = high ? *high : (low ? 4 * *low : detail::default_high_water);
    std::size_t l = low ? *low : h / 4;
    t().set_write_buffer_limits(h, l);
}

std::pair<std::size_t, std::size_t> stream_writer::write_buffer_limits() const {
    return t().write_buffer_limits();
}

std::string stream_writer::selected_alpn_protocol() const {
    return t().selected_alpn_protocol();
}
std::string stream_writer::tls_version() const {
    return t().tls_version();
}

task<void> stream_writer::start_tls(const ssl_context& context, start_tls_options options) {
    const char* what = "weft::stream_writer::start_tls";
    if (!l_) throw std::logic_error(std::string(what) + ": no stream (default-constructed)");
    std::shared_ptr<detail::stream_link> link = l_;
    auto raw = std::dynamic_pointer_cast<detail::fd_transport>(link->plain);
    std::shared_ptr<detail::reader_state> reader;
    {
        std::lock_guard lock(link->mutex);
        if (link->upgraded || link->upgrading || link->get().is_tls()) {
            throw std::logic_error(std::string(what) + ": the stream already speaks TLS");
        }
        if (!raw || !raw->is_socket()) {
            throw std::logic_error(std::string(what) +
                                   ": TLS needs a socket stream, not a pipe or an in-memory one");
        }
        link->upgrading = true;
        reader = link->reader.lock();
    }
    struct done_guard {
        detail::stream_link& l;
        ~done_guard() {
            std::lock_guard lock(l.mutex);
            l.upgrading = false;
        }
    } done{*link};
#if WEFT_HAVE_TLS
    // The reader is held for the handshake: a read now would take the
    // peer's handshake bytes as data.
    std::optional<detail::read_guard> held;
    std::string early;
    if (reader) {
        held.emplace(*reader, "start_tls");
        std::lock_guard lock(reader->mutex);
        early = reader->take(reader->size());  // the peer's first TLS bytes, read ahead
    }
    detail::tls_settings settings;
    settings.context = &context;
    settings.server_side = context.purpose() == ssl_purpose::client_auth;
    settings.server_hostname = std::string(options.server_hostname);
    settings.handshake_timeout = options.ssl_handshake_timeout;
    settings.shutdown_timeout = options.ssl_shutdown_timeout;
    auto tls =
        co_await detail::tls_transport::open(raw, std::move(settings), what, std::move(early));
    link->upgrade(std::move(tls));
#else
    (void)context;
    (void)options;
    throw std::invalid_argument(std::string(what) +
                                ": weft was built without TLS (OpenSSL 3's development files, "
                                "Debian's libssl-dev, were not found)");
#endif
}

// ---- connecting

namespace {

std::shared_ptr<detail::fd_transport> plain_transport(socket s) {
    if ((s.family() == AF_INET || s.family() == AF_INET6) && s.type() == SOCK_STREAM) {
        // asyncio (and Go) turn Nagle's algorithm off on TCP streams: a
        // request/response protocol must not wait for the delayed ACK.
        try {
            s.set_nodelay(true);
        } catch (const std::system_error&) {
        }
    }
    return detail::fd_transport::from_socket(std::move(s));
}

// The streams over a connected socket: plain, or TLS after its handshake
// when options.ssl is set.
task<std::pair<stream_reader, stream_writer>> connected_streams(socket s,
                                                                const stream_options& options,
                                                                std::string hostname,
                                                                std::string what) {
    auto raw = plain_transport(std::move(s));
    std::shared_ptr<detail::transport> t = raw;
    if (options.ssl != nullptr) {
#if WEFT_HAVE_TLS
        detail::tls_settings settings;
        settings.context = options.ssl;
        settings.server_hostname = options.server_hostname.empty()
                                       ? std::move(hostname)
                                       : std::string(options.server_hostname);
        settings.handshake_timeout = options.ssl_handshake_timeout;
        settings.shutdown_timeout = options.ssl_shutdown_timeout;
        t = co_await detail::tls_transport::open(raw, std::move(settings), std::move(what));
#else
        (void)hostname;
        raw->abort();
        throw std::invalid_argument(what +
                                    ": ssl was given but weft was built without TLS "
                                    "(OpenSSL 3's development files, Debian's libssl-dev, were "
                                    "not found)");
#endif
    }
    co_return detail::make_streams(std::move(t), options.limit);
}

}  // namespace

std::pair<stream_reader, stream_writer> detail::make_streams(std::shared_ptr<transport> t,
                                                             std::size_t limit) {
    auto link = std::make_shared<stream_link>(std::move(t));
    return {stream_reader(link, limit), stream_writer(link)};
}

std::pair<stream_reader, stream_writer> open_stream(socket s, std::size_t limit) {
    return detail::make_streams(plain_transport(std::move(s)), limit);
}

task<std::pair<stream_reader, stream_writer>> open_connection(std::string host, std::uint16_t port,
                                                              stream_options options) {
    std::vector<address_info> infos = co_await getaddrinfo(host, port, options.family, SOCK_STREAM);
    std::exception_ptr last;
    for (const address_info& ai : infos) {
        std::optional<socket> connected;
        try {
            socket s(ai.family, SOCK_STREAM, ai.protocol);
            co_await sock_connect(s, ai.address);
            connected.emplace(std::move(s));
        } catch (const cancelled_error&) {
            throw;
        } catch (...) {
            last = std::current_exception();
        }
        // A TLS failure is the server's answer, not this address's: raised
        // as it is, without trying the next address.
        if (connected) {
            co_return co_await connected_streams(std::move(*connected), options, host,
                                                 "weft::open_connection");
        }
    }
    if (last) std::rethrow_exception(last);
    throw resolve_error(0, "weft::open_connection('" + host + "', " + std::to_string(port) +
                               "): no address to connect to");
}

task<std::pair<stream_reader, stream_writer>> open_unix_connection(std::string path,
                                                                   stream_options options) {
    socket s(AF_UNIX, SOCK_STREAM);
    co_await sock_connect(s, socket_address::unix_path(path));
    co_return co_await connected_streams(std::move(s), options, std::string(),
                                         "weft::open_unix_connection");
}

}  // namespace weft
