// asyncio's start_server: a TCP (or Unix-domain) server running a handler
// task per connection.
//
//     weft::task<void> handle(weft::stream_reader reader, weft::stream_writer writer) {
//         std::string line = co_await reader.readline();
//         writer.write(line);
//         co_await writer.drain();
//     }   // the connection closes when the handler's reader and writer are gone
//
//     weft::server srv = co_await weft::start_server(handle, "127.0.0.1", 8888);
//     co_await srv.serve_forever();
//
// The server accepts on every address `host` resolves to ("" : all
// interfaces, IPv4 and IPv6) from the moment start_server returns. Each
// connection gets a reader, a writer (TCP_NODELAY set) and a task running
// the handler; a handler that raises is reported to the loop's exception
// handler ("Unhandled exception in client_connected_cb") and the server
// goes on. When accept() runs out of fds or memory (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) the server reports it and retries after a pause that
// doubles from 10 ms up to 1 s (Go's accept backoff), instead of spinning.
//
// weft::server is a move-only handle; destroying the last one closes the
// server (asyncio's `async with server`). In Go mode the accept loop runs on
// the worker that started the server, and handler tasks spread from there
// by work stealing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <weft/io/address.hpp>
#include <weft/io/stream.hpp>
#include <weft/task.hpp>

namespace weft {

namespace detail {
struct server_state;
}

// The per-connection coroutine: takes the reader and writer by value.
using client_connected = std::function<task<void>(stream_reader, stream_writer)>;

struct server_options {
    std::size_t limit = default_stream_limit;  // each reader's limit
    int backlog = 100;                         // listen(2), as asyncio
    bool reuse_address = true;                 // SO_REUSEADDR (asyncio's default on Unix)
    bool reuse_port = false;                   // SO_REUSEPORT
    int family = 0;                            // AF_UNSPEC: every family `host` has

    // ---- TLS (asyncio's ssl=, ssl_handshake_timeout=, ssl_shutdown_timeout=)
    // A server context (ssl_context::create_default(ssl_purpose::client_auth)
    // with its certificate loaded): every connection speaks TLS, and the
    // handler runs once its handshake is done. The context must outlive the
    // server. A client whose handshake fails or takes longer than
    // ssl_handshake_timeout is dropped and reported to the loop's exception
    // handler ("TLS handshake failed with ADDRESS"); the handler never sees it.
    const ssl_context* ssl = nullptr;
    double ssl_handshake_timeout = 60.0;
    // Seconds close() waits for the queue and close_notify to go out.
    double ssl_shutdown_timeout = 30.0;
};

class server {
public:
    server() noexcept = default;
    explicit server(std::shared_ptr<detail::server_state> s) noexcept;
    server(server&&) noexcept = default;
    server& operator=(server&& o) noexcept;
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server();

    // Stops accepting and closes the listening sockets; connections already
    // accepted go on. serve_forever() returns.
    void close();
    // asyncio 3.13's close_clients(): ends every connection the server
    // accepted, gracefully. Each handler's reads report the end of the
    // stream once the bytes already received are read (a request in flight
    // is answered; an idle connection's handler sees EOF at once). When the
    // handler returns, the connection sends what is queued, then a FIN, and
    // reads and discards what the peer still sends until the peer closes
    // too, so that the close is never a reset (unread bytes in the receive
    // buffer would make the kernel send one). It counts as active until then.
    void close_clients();
    // asyncio 3.13's abort_clients(): closes every connection now, dropping
    // what is queued; a handler's next read or write raises closed_error.
    void abort_clients();
    // Waits until the server is closed and its connections have ended.
    task<void> wait_closed();
    // Graceful shutdown in one call: close(), close_clients(), then
    // wait_closed() for at most `grace_period` seconds, and abort_clients()
    // if connections are left after it. True when every connection ended
    // within the grace period. Handlers still running after an abort (one
    // blocked in a sleep, say) end at their next I/O, or when the runner
    // cancels them.
    task<bool> shutdown(double grace_period);
    // Waits until close() (returns) or the task is cancelled (closes the
    // server, then raises cancelled_error). asyncio's serve_forever raises
    // CancelledError when close() is called from elsewhere; this returns.
    task<void> serve_forever();
    bool is_serving() const;
    // The listening addresses (asyncio: [s.getsockname() for s in server.sockets]).
    std::vector<socket_address> addresses() const;
    // The connections whose handler is still running.
    std::size_t active_connections() const;

    explicit operator bool() const noexcept { return s_ != nullptr; }

private:
    std::shared_ptr<detail::server_state> s_;
};

// asyncio.start_server. Raises std::system_error naming the address when a
// bind fails (EADDRINUSE...).
task<server> start_server(client_connected handler, std::string host, std::uint16_t port,
                          server_options options = {});
// asyncio.start_unix_server. An existing socket file at `path` is replaced.
task<server> start_unix_server(client_connected handler, std::string path,
                               server_options options = {});
// A server on sockets bound and listening already (asyncio: start_server(sock=...)).
server serve_sockets(client_connected handler, std::vector<socket> listeners,
                     server_options options = {});

}  // namespace weft
