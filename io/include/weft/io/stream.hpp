// asyncio's streams: a stream_reader and a stream_writer over a connection.
//
//     auto [reader, writer] = co_await weft::open_connection("127.0.0.1", 8888);
//     writer.write("hello\n");
//     co_await writer.drain();
//     std::string line = co_await reader.readline();
//     writer.close();
//     co_await writer.wait_closed();
//
// The reader has asyncio.StreamReader's methods and behaviour: read(n),
// readline(), readuntil(sep) (limit_overrun_error when no separator fits in
// the limit), readexactly(n) (incomplete_read_error carrying the partial
// bytes), at_eof(). It reads from the connection only when a read needs
// bytes, so its buffer never holds more than the limit (64 KiB by default)
// plus one receive. One task reads at a time: a second concurrent read
// raises std::logic_error, as asyncio raises RuntimeError.
//
// The writer has asyncio.StreamWriter's: write() queues bytes (sending at once
// when it can) and never blocks; drain() waits while more than the high
// water mark (64 KiB) is queued, until the queue is down to the low one
// (16 KiB); write_eof() half-closes; close() closes once the queue is sent;
// wait_closed(). A failure (the peer reset the connection) is raised by the
// next write() or drain() as weft::connection_error.
//
// Both are cheap shared handles: copies refer to the same stream, and the
// connection closes when the last handle (and the writer's background
// sending) is done with it. Closing the stream while a read is pending makes
// that read raise weft::closed_error (asyncio would return b"" there, as if
// the peer had closed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/io/address.hpp>
#include <weft/io/errors.hpp>
#include <weft/io/socket.hpp>
#include <weft/task.hpp>

namespace weft {

class ssl_context;  // weft/tls/ssl_context.hpp

namespace detail {
class transport;
struct reader_state;
struct stream_link;
}  // namespace detail

// asyncio's _DEFAULT_LIMIT: how much readuntil/readline may buffer.
inline constexpr std::size_t default_stream_limit = 64 * 1024;

class stream_reader {
public:
    // A reader that is fed by hand with feed_data() / feed_eof() (asyncio's
    // StreamReader()).
    explicit stream_reader(std::size_t limit = default_stream_limit);

    // Up to n bytes; with n < 0, everything up to the end of the stream. ""
    // at the end of the stream (and for n == 0).
    task<std::string> read(std::ptrdiff_t n = -1);
    // A line, with its '\n'; at the end of the stream, what is left (maybe
    // ""). A line longer than the limit raises std::invalid_argument (asyncio:
    // ValueError) after dropping it from the buffer.
    task<std::string> readline();
    // Everything up to and including `separator` (not empty). Raises
    // limit_overrun_error when it is not within the limit (the bytes stay
    // buffered), incomplete_read_error at the end of the stream.
    task<std::string> readuntil(std::string separator = "\n");
    // Exactly n bytes, or incomplete_read_error with what came before the end.
    task<std::string> readexactly(std::size_t n);
    // The end of the stream was seen and the buffer is empty.
    bool at_eof() const;

    // ---- feeding (for readers made by hand)
    void feed_data(std::string_view data);
    void feed_eof();
    // The exception reads raise from now on (asyncio's set_exception).
    void set_exception(std::exception_ptr e);
    std::exception_ptr exception() const;

    std::size_t limit() const noexcept;
    // Bytes received and not read yet.
    std::size_t buffered() const;

    // For weft's own use: a reader over a transport, alone or sharing it
    // with a writer.
    explicit stream_reader(std::shared_ptr<detail::transport> t,
                           std::size_t limit = default_stream_limit);
    stream_reader(std::shared_ptr<detail::stream_link> link, std::size_t limit);

private:
    std::shared_ptr<detail::reader_state> s_;
};

// stream_writer::start_tls's settings (asyncio's keyword arguments).
struct start_tls_options {
    // A client's SNI name and the name its certificate must carry. A view
    // (see stream_options::server_hostname).
    std::string_view server_hostname{};
    double ssl_handshake_timeout = 60.0;
    double ssl_shutdown_timeout = 30.0;
};

class stream_writer {
public:
    // No stream: every method raises std::logic_error.
    stream_writer() noexcept = default;
    explicit stream_writer(std::shared_ptr<detail::transport> t);
    explicit stream_writer(std::shared_ptr<detail::stream_link> link) noexcept;

    // Queues `data` (sending at once when nothing is queued). Raises the
    // connection's error if it failed, closed_error after close(),
    // std::logic_error after write_eof().
    void write(std::string_view data);
    template <class Range>
    void writelines(const Range& lines) {
        for (const auto& l : lines)
            write(std::string_view(l));
    }
    // Waits while the queue is above the high water mark. Raises the
    // connection's error, or connection_error once the connection is lost.
    task<void> drain();
    // Half-closes: sends end-of-stream once the queue is sent (the peer's
    // reads see EOF; ours go on).
    void write_eof();
    bool can_write_eof() const;
    // Closes once the queue is sent; a pending read on the stream raises
    // closed_error.
    void close();
    // Closes now, dropping the queue (asyncio's transport.abort()).
    void abort();
    bool is_closing() const;
    // Waits until the connection is closed; raises the error it failed with.
    task<void> wait_closed();

    // asyncio's get_extra_info('peername') / ('sockname'): unspecified for
    // pipes.
    socket_address peername() const;
    socket_address sockname() const;

    // asyncio's transport.get_write_buffer_size() and its limits.
    std::size_t write_buffer_size() const;
    // high defaults to 64 KiB (4 * low when only low is given), low to
    // high / 4. Raises std::invalid_argument unless high >= low.
    void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                                 std::optional<std::size_t> low = std::nullopt);
    // {low, high}, as asyncio's get_write_buffer_limits().
    std::pair<std::size_t, std::size_t> write_buffer_limits() const;

    // TLS streams (asyncio's get_extra_info('ssl_object')): the protocol
    // ALPN agreed on (selected_alpn_protocol()) and the TLS version
    // ("TLSv1.3", "TLSv1.2"); "" for both on a plain stream, and "" for the
    // protocol when the peers agreed on none.
    std::string selected_alpn_protocol() const;
    std::string tls_version() const;

    // asyncio 3.11's StreamWriter.start_tls: upgrades the open connection
    // to TLS, as a client with a client context (ssl_purpose::server_auth)
    // or as a server with a server's. Once it returns, this writer, its
    // reader and all their copies speak TLS. Bytes the reader had received
    // ahead (the peer's first TLS bytes) go to the handshake. No other task
    // may use the stream meanwhile: a read pending or started during the
    // handshake raises std::logic_error. Failures are open_connection's
    // (docs/io.md, "TLS"), and the connection is closed after one. Raises
    // std::logic_error on a stream that is not a socket or already speaks
    // TLS, std::invalid_argument without TLS in the build.
    task<void> start_tls(const ssl_context& context, start_tls_options options = {});

    explicit operator bool() const noexcept { return l_ != nullptr; }

private:
    detail::transport& t() const;
    std::shared_ptr<detail::stream_link> l_;
};

struct stream_options {
    std::size_t limit = default_stream_limit;  // the reader's limit
    int family = 0;                            // AF_UNSPEC, AF_INET, AF_INET6

    // ---- TLS (asyncio's ssl=, server_hostname=, ssl_*_timeout=)
    // A client context (ssl_context::create_default()): the stream speaks
    // TLS through it. The context must outlive the call only.
    const ssl_context* ssl = nullptr;
    // The name sent in SNI and checked against the server's certificate;
    // by default open_connection's host. A view, as subprocess_options'
    // are (GCC 12 destroys a std::string in an aggregate built in braces
    // inside a co_await twice): the string must outlive the awaited call.
    std::string_view server_hostname{};
    // Seconds the handshake may take before the connection is dropped with
    // timeout_error.
    double ssl_handshake_timeout = 60.0;
    // Seconds close() waits for the queue and close_notify to go out before
    // aborting the connection.
    double ssl_shutdown_timeout = 30.0;
};

// asyncio.open_connection: resolves `host` (names on the resolver threads),
// tries each address in turn, and returns a reader and writer over the first
// connection made. Raises the last connection error otherwise.
//
// With options.ssl the streams speak TLS once the handshake is done (see
// docs/io.md, "TLS"): a certificate refused raises ssl_certificate_error,
// another handshake failure ssl_error, a handshake slower than
// ssl_handshake_timeout timeout_error; nothing is left open after any of
// them. Without TLS in the build (no libssl-dev) it raises
// std::invalid_argument saying so.
task<std::pair<stream_reader, stream_writer>> open_connection(std::string host, std::uint16_t port,
                                                              stream_options options = {});
// asyncio.open_unix_connection.
task<std::pair<stream_reader, stream_writer>> open_unix_connection(std::string path,
                                                                   stream_options options = {});
// Streams over a socket already connected (asyncio: open_connection(sock=s)).
std::pair<stream_reader, stream_writer> open_stream(socket s,
                                                    std::size_t limit = default_stream_limit);

// Two stream pairs connected in memory, with no socket (Trio's
// memory_stream_pair): what one side's writer writes, the other side's
// reader reads. For tests of protocol code: no port, no syscall, and the
// same reader and writer as over a socket, flow control included (the
// writer's queue is what the other side has not read yet: drain() waits
// until it reads). write_eof() is the end of the stream for the other
// side; close() too, once it has read what was written; abort() drops that
// and makes its reads raise connection_error (a reset). Writing to a side
// whose peer closed raises connection_error (EPIPE). peername()/sockname()
// are unspecified, and start_tls() refuses it (std::logic_error).
//
//     auto [client, server] = weft::open_memory_pair();
//     client.second.write("ping\n");
//     std::string line = co_await server.first.readline();
std::pair<std::pair<stream_reader, stream_writer>, std::pair<stream_reader, stream_writer>>
open_memory_pair(std::size_t limit = default_stream_limit);

}  // namespace weft
