// The seam under a stream_reader / stream_writer pair (asyncio's
// Transport): what the streams need from the connection below them, so that
// the same reader and writer (and their flow control) run over a plain fd
// (fd_transport) or over TLS (tls_transport, which sits on an fd_transport
// as asyncio's sslproto sits on a socket transport).
//
// Reading is pulled: the reader calls try_receive() when it needs bytes and,
// when that says `again`, waits for the read readiness of handle() with
// io_wait, then tries again. Every layer therefore waits on the one fd at
// the bottom, and a cancelled wait loses nothing: bytes are only ever handed
// over by try_receive(), which never suspends.
//
// Cost: one virtual call per read or write call of the streams, none per
// byte; the plain transport's syscalls stay where they were.
#pragma once

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include <weft/io/address.hpp>
#include <weft/task.hpp>

#include "io_wait.hpp"

namespace weft::detail {

class transport {
public:
    virtual ~transport() = default;

    // ---- the reader's side
    // One attempt to receive up to `n` bytes into `buf`, without suspending:
    // n > 0 bytes, n == 0 at the end of the stream, again (wait for
    // handle()'s read readiness after `seq`), closed, or err (an errno).
    // A failure that is not an errno (a TLS error) is raised.
    virtual io_attempt try_receive(char* buf, std::size_t n) = 0;
    // The fd whose readiness the reader waits on.
    virtual io_handle handle() const noexcept = 0;
    // server::close_clients() stopped the reads (see fd_transport).
    virtual bool reads_stopped() const noexcept = 0;
    // The error that closed the transport, if one did (a failed send:
    // asyncio's _fatal_error). A read that finds the transport closed
    // raises it rather than closed_error, as asyncio's reader raises the
    // exception connection_lost brought.
    virtual std::exception_ptr failure() const { return nullptr; }

    // ---- the writer's side (stream_writer's methods, same contracts)
    virtual void write(std::string_view data) = 0;
    virtual task<void> drain() = 0;
    virtual void write_eof() = 0;
    virtual bool can_write_eof() const noexcept = 0;
    virtual void close() = 0;
    virtual void abort() = 0;
    virtual bool is_closing() const = 0;
    virtual task<void> wait_closed() = 0;
    virtual std::size_t write_buffer_size() const = 0;
    virtual void set_write_buffer_limits(std::size_t high, std::size_t low) = 0;
    virtual std::pair<std::size_t, std::size_t> write_buffer_limits() const = 0;
    virtual const socket_address& peername() const noexcept = 0;
    virtual const socket_address& sockname() const noexcept = 0;

    // ---- TLS, when the transport has it (asyncio's get_extra_info('ssl_object'))
    virtual bool is_tls() const noexcept { return false; }
    // The protocol ALPN agreed on; "" without TLS or without agreement.
    virtual std::string selected_alpn_protocol() const { return {}; }
    // "TLSv1.3", "TLSv1.2"; "" without TLS.
    virtual std::string tls_version() const { return {}; }
};

}  // namespace weft::detail
