// Non-blocking sockets and the low-level awaitables on them (asyncio's
// loop.sock_* methods): TCP over IPv4 and IPv6, UDP, and Unix-domain sockets.
//
//     weft::socket s(AF_INET, SOCK_STREAM);
//     co_await weft::sock_connect(s, weft::socket_address::ip("127.0.0.1", 8080));
//     co_await weft::sock_sendall(s, "ping\n");
//     std::string reply = co_await weft::sock_recv(s, 1024);   // "" at end of stream
//
// A weft::socket owns its fd (closed by close() or the destructor) and is
// always non-blocking and close-on-exec. Every awaitable tries its syscall at
// once and waits on the loop's epoll only when it would block; the wait is
// cancellable, so wait_for() and timeout() work on all of them. Closing a
// socket wakes the operations waiting on it with weft::closed_error, on any
// worker. Failures raise std::system_error (connection_error for resets,
// refusals and broken pipes) naming the operation.
//
// The awaitables take the socket by reference but capture what they need
// when called, so closing (or destroying) the socket while one is pending is
// safe: the operation raises closed_error. Buffers (`data`, `buf`) must stay
// alive until the operation completes, as with any lazy task.
//
// An fd is registered with the poller of the loop that first waits on it and
// must be closed before that loop is (asyncio: close transports before the
// loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <sys/socket.h>

#include <weft/io/address.hpp>
#include <weft/io/detail/io_handle.hpp>
#include <weft/io/errors.hpp>
#include <weft/task.hpp>

namespace weft {

class socket {
public:
    // No socket (is_open() is false).
    socket() noexcept = default;
    // socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC added. Raises std::system_error.
    socket(int family, int type, int protocol = 0);
    // Takes ownership of `fd` (made non-blocking and close-on-exec).
    static socket adopt(int fd);
    socket(socket&& o) noexcept : h_(std::exchange(o.h_, {})), family_(o.family_), type_(o.type_) {}
    socket& operator=(socket&& o) noexcept;
    socket(const socket&) = delete;
    socket& operator=(const socket&) = delete;
    ~socket() { close(); }

    bool is_open() const noexcept;
    // The fd, or -1 once closed.
    int fd() const noexcept;
    int family() const noexcept { return family_; }
    int type() const noexcept { return type_; }

    // Closes the socket; operations waiting on it (on any worker) raise
    // closed_error. The fd itself is closed once no syscall on it is in
    // flight, so its number is never reused under one. Idempotent.
    void close() noexcept;
    // Gives up the fd without closing it (it stays non-blocking); -1 if
    // closed or if an operation is in flight.
    int detach() noexcept;

    void bind(const socket_address& address);
    void listen(int backlog = 128);
    void shutdown(int how);  // SHUT_RD, SHUT_WR, SHUT_RDWR
    socket_address getsockname() const;
    socket_address getpeername() const;

    void setsockopt(int level, int option, int value);
    int getsockopt(int level, int option) const;
    void set_nodelay(bool on);  // TCP_NODELAY
    void set_reuse_address(bool on);
    void set_reuse_port(bool on);

    // Wraps an fd that is already non-blocking and close-on-exec.
    static socket from_nonblocking(int fd, int family, int type);

    // The handle the awaitables capture.
    detail::io_handle handle() const noexcept { return h_; }

private:
    detail::io_handle h_;
    int family_ = AF_UNSPEC;
    int type_ = 0;
};

// A connected pair of Unix-domain sockets (socket.socketpair).
std::pair<socket, socket> socketpair(int type = SOCK_STREAM);

// ---- the awaitables (asyncio's loop.sock_*)

// Accepts a connection: the new socket (non-blocking) and the peer's address.
task<std::pair<socket, socket_address>> sock_accept(socket& listener);
// Connects; raises connection_error (ECONNREFUSED ...) or std::system_error.
task<void> sock_connect(socket& s, socket_address address);
// Up to `n` bytes; "" at the end of the stream.
task<std::string> sock_recv(socket& s, std::size_t n);
// Reads into `buf`; returns the count, 0 at the end of the stream.
task<std::size_t> sock_recv_into(socket& s, std::span<char> buf);
// Sends all of `data`, waiting as the socket's buffer fills.
task<void> sock_sendall(socket& s, std::string_view data);
// One datagram.
task<std::size_t> sock_sendto(socket& s, std::string_view data, socket_address address);
// One datagram of up to `n` bytes, and its sender.
task<std::pair<std::string, socket_address>> sock_recvfrom(socket& s, std::size_t n);
task<std::pair<std::size_t, socket_address>> sock_recvfrom_into(socket& s, std::span<char> buf);

}  // namespace weft
