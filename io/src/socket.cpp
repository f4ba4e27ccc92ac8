// weft::socket and the sock_* awaitables: each tries its syscall at once and
// waits for a readiness edge only when it would block (io_wait.hpp).
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/detail/budget_yield.hpp>
#include <weft/detail/thread_context.hpp>
#include <weft/io/socket.hpp>
#include <weft/sleep.hpp>

#include "io_wait.hpp"
#include "ring_op.hpp"
#include "ring_receive.hpp"
#include "scratch.hpp"

namespace weft {

using detail::io_attempt;
using detail::io_dir;
using detail::io_handle;
using detail::try_io;
using detail::until_ready;

namespace {

[[noreturn]] void fail(const char* what) {
    detail::throw_io_error(what, errno);
}

// Runs `op(fd)` (a syscall returning int) on an open socket, for the
// synchronous methods (bind, getsockname...).
template <class Op>
int sync_op(io_handle h, const char* what, Op&& op) {
    if (h.entry == nullptr || !h.entry->begin_op(h.gen)) detail::throw_closed(what);
    int r = op(h.entry->fd());
    int err = errno;
    h.entry->end_op();
    if (r < 0) detail::throw_io_error(what, err);
    return r;
}

int socket_type_of(int fd) {
    int type = 0;
    socklen_t len = sizeof type;
    ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    return type;
}
int socket_family_of(int fd) {
    int family = AF_UNSPEC;
    socklen_t len = sizeof family;
    ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len);
    return family;
}

}  // namespace

socket::socket(int family, int type, int protocol) : family_(family), type_(type) {
    int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0) fail("weft::socket");
    h_ = detail::io_entry::open(fd);
}

socket socket::adopt(int fd) {
    if (fd < 0) throw std::invalid_argument("weft::socket::adopt: negative fd");
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) fail("weft::socket::adopt");
    int fdfl = ::fcntl(fd, F_GETFD);
    if (fdfl >= 0) ::fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC);
    socket s;
    s.family_ = socket_family_of(fd);
    s.type_ = socket_type_of(fd);
    s.h_ = detail::io_entry::open(fd);
    return s;
}

socket& socket::operator=(socket&& o) noexcept {
    if (this != &o) {
        close();
        h_ = std::exchange(o.h_, {});
        family_ = o.family_;
        type_ = o.type_;
    }
    return *this;
}

bool socket::is_open() const noexcept {
    return h_.entry != nullptr && h_.entry->is_open(h_.gen);
}

int socket::fd() const noexcept {
    return is_open() ? h_.entry->fd() : -1;
}

void socket::close() noexcept {
    if (h_.entry != nullptr) h_.entry->close(h_.gen);
    h_ = {};
}

int socket::detach() noexcept {
    if (h_.entry == nullptr) return -1;
    int fd = h_.entry->detach(h_.gen);
    if (fd >= 0) h_ = {};
    return fd;
}

void socket::bind(const socket_address& address) {
    sync_op(h_, "weft::socket::bind",
            [&](int fd) { return ::bind(fd, address.data(), address.size()); });
}

void socket::listen(int backlog) {
    sync_op(h_, "weft::socket::listen", [&](int fd) { return ::listen(fd, backlog); });
}

void socket::shutdown(int how) {
    sync_op(h_, "weft::socket::shutdown", [&](int fd) { return ::shutdown(fd, how); });
}

socket_address socket::getsockname() const {
    socket_address a;
    *a.size_ptr() = socket_address::capacity;
    sync_op(h_, "weft::socket::getsockname",
            [&](int fd) { return ::getsockname(fd, a.data(), a.size_ptr()); });
    return a;
}

socket_address socket::getpeername() const {
    socket_address a;
    *a.size_ptr() = socket_address::capacity;
    sync_op(h_, "weft::socket::getpeername",
            [&](int fd) { return ::getpeername(fd, a.data(), a.size_ptr()); });
    return a;
}

void socket::setsockopt(int level, int option, int value) {
    sync_op(h_, "weft::socket::setsockopt",
            [&](int fd) { return ::setsockopt(fd, level, option, &value, sizeof value); });
}

int socket::getsockopt(int level, int option) const {
    int value = 0;
    socklen_t len = sizeof value;
    sync_op(h_, "weft::socket::getsockopt",
            [&](int fd) { return ::getsockopt(fd, level, option, &value, &len); });
    return value;
}

void socket::set_nodelay(bool on) {
    setsockopt(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}
void socket::set_reuse_address(bool on) {
    setsockopt(SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0);
}
void socket::set_reuse_port(bool on) {
    setsockopt(SOL_SOCKET, SO_REUSEPORT, on ? 1 : 0);
}

socket socket::from_nonblocking(int fd, int family, int type) {
    socket s;
    s.family_ = family;
    s.type_ = type;
    s.h_ = detail::io_entry::open(fd);
    return s;
}

std::pair<socket, socket> socketpair(int type) {
    int fds[2];
    if (::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
        fail("weft::socketpair");
    }
    return {socket::from_nonblocking(fds[0], AF_UNIX, type),
            socket::from_nonblocking(fds[1], AF_UNIX, type)};
}

// ---- the awaitables

namespace {

task<std::pair<socket, socket_address>> accept_op(io_handle h, int family, int type) {
    for (;;) {
        socket_address peer;
        io_attempt a = try_io(h, io_dir::read, [&](int fd) {
            *peer.size_ptr() = socket_address::capacity;
            return static_cast<ssize_t>(
                ::accept4(fd, peer.data(), peer.size_ptr(), SOCK_NONBLOCK | SOCK_CLOEXEC));
        });
        if (!a.done()) {
            co_await until_ready(h, io_dir::read, a, "weft::sock_accept");
            continue;
        }
        if (a.n < 0) {
            // The peer gave up before we took it: take the next one.
            if (a.err == ECONNABORTED || a.err == EPROTO) continue;
            detail::throw_io_error("weft::sock_accept", a.err);
        }
        co_await detail::budget_yield{};
        co_return std::pair{socket::from_nonblocking(static_cast<int>(a.n), family, type), peer};
    }
}

task<void> connect_op(io_handle h, socket_address address) {
    if (detail::completion_queue* ring = detail::socket_ring()) {
        // One request instead of connect, a wait for writability and a
        // second connect for the outcome.
        auto op = std::make_shared<detail::ring_op>();
        op->address = address;
        detail::io_request r;
        r.op = detail::io_request::kind::connect;
        r.data = op->address.data();
        r.size = op->address.size();
        int res = co_await detail::ring_call(h, io_dir::write, *ring, op, r, "weft::sock_connect");
        if (res < 0) detail::throw_io_error("weft::sock_connect", -res);
        co_return;
    }
    bool first = true;
    for (;;) {
        io_attempt a = try_io(h, io_dir::write, [&](int fd) -> ssize_t {
            if (::connect(fd, address.data(), address.size()) == 0) return 0;
            // A connect in progress answers EALREADY until it is done, then
            // EISCONN, or the error it ended with.
            if (errno == EISCONN && !first) return 0;
            if (errno == EALREADY) errno = EAGAIN;
            return -1;
        });
        first = false;
        if (!a.done()) {
            co_await until_ready(h, io_dir::write, a, "weft::sock_connect");
            continue;
        }
        if (a.n < 0) detail::throw_io_error("weft::sock_connect", a.err);
        co_return;
    }
}

// `stream`: a byte stream, where a short receive means the buffer is empty.
task<std::size_t> recv_into_op(io_handle h, std::span<char> buf, const char* what, bool stream) {
    for (;;) {
        io_attempt a = try_io(
            h, io_dir::read, [&](int fd) { return ::recv(fd, buf.data(), buf.size(), 0); }, stream);
        if (stream && a.n > 0 && static_cast<std::size_t>(a.n) < buf.size()) {
            h.entry->note_drained(io_dir::read, a.seq);
        }
        if (!a.done()) {
            co_await until_ready(h, io_dir::read, a, what);
            continue;
        }
        if (a.n < 0) detail::throw_io_error(what, a.err);
        co_await detail::budget_yield{};
        co_return static_cast<std::size_t>(a.n);
    }
}

task<std::string> recv_op(io_handle h, std::size_t n, bool stream) {
    if (n == 0) co_return std::string();
    if (n <= detail::scratch_size) {
        // Read into this thread's scratch buffer and copy out what came:
        // no zero-filled n-byte string for a 10-byte message.
        for (;;) {
            io_attempt a = try_io(
                h, io_dir::read, [&](int fd) { return ::recv(fd, detail::scratch_buffer(), n, 0); },
                stream);
            if (stream && a.n > 0 && static_cast<std::size_t>(a.n) < n) {
                h.entry->note_drained(io_dir::read, a.seq);
            }
            if (!a.done()) {
                co_await until_ready(h, io_dir::read, a, "weft::sock_recv");
                continue;
            }
            if (a.n < 0) detail::throw_io_error("weft::sock_recv", a.err);
            std::string out(detail::scratch_buffer(), static_cast<std::size_t>(a.n));
            co_await detail::budget_yield{};
            co_return out;
        }
    }
    std::string out(n, '\0');
    std::size_t got =
        co_await recv_into_op(h, std::span<char>(out.data(), n), "weft::sock_recv", stream);
    out.resize(got);
    co_return out;
}

task<void> sendall_op(io_handle h, std::string_view data) {
    std::size_t off = 0;
    bool waited = false;
    while (off < data.size()) {
        io_attempt a = try_io(h, io_dir::write, [&](int fd) {
            return ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        });
        if (!a.done()) {
            co_await until_ready(h, io_dir::write, a, "weft::sock_sendall");
            waited = true;
            continue;
        }
        if (a.n < 0) detail::throw_io_error("weft::sock_sendall", a.err);
        off += static_cast<std::size_t>(a.n);
    }
    if (!waited) co_await detail::budget_yield{};
}

task<std::size_t> sendto_op(io_handle h, std::string_view data, socket_address address) {
    for (;;) {
        io_attempt a = try_io(h, io_dir::write, [&](int fd) {
            return ::sendto(fd, data.data(), data.size(), MSG_NOSIGNAL, address.data(),
                            address.size());
        });
        if (!a.done()) {
            co_await until_ready(h, io_dir::write, a, "weft::sock_sendto");
            continue;
        }
        if (a.n < 0) detail::throw_io_error("weft::sock_sendto", a.err);
        co_await detail::budget_yield{};
        co_return static_cast<std::size_t>(a.n);
    }
}

task<std::pair<std::size_t, socket_address>> recvfrom_into_op(io_handle h, std::span<char> buf,
                                                              const char* what) {
    for (;;) {
        socket_address from;
        io_attempt a = try_io(h, io_dir::read, [&](int fd) {
            *from.size_ptr() = socket_address::capacity;
            return ::recvfrom(fd, buf.data(), buf.size(), 0, from.data(), from.size_ptr());
        });
        if (!a.done()) {
            co_await until_ready(h, io_dir::read, a, what);
            continue;
        }
        if (a.n < 0) detail::throw_io_error(what, a.err);
        co_await detail::budget_yield{};
        co_return std::pair{static_cast<std::size_t>(a.n), from};
    }
}

task<std::pair<std::string, socket_address>> recvfrom_op(io_handle h, std::size_t n) {
    std::string out(n, '\0');
    auto [got, from] =
        co_await recvfrom_into_op(h, std::span<char>(out.data(), n), "weft::sock_recvfrom");
    out.resize(got);
    co_return std::pair{std::move(out), from};
}

}  // namespace

task<std::pair<socket, socket_address>> sock_accept(socket& listener) {
    return accept_op(listener.handle(), listener.family(), listener.type());
}
task<void> sock_connect(socket& s, socket_address address) {
    return connect_op(s.handle(), address);
}
task<std::string> sock_recv(socket& s, std::size_t n) {
    return recv_op(s.handle(), n, s.type() == SOCK_STREAM);
}
task<std::size_t> sock_recv_into(socket& s, std::span<char> buf) {
    return recv_into_op(s.handle(), buf, "weft::sock_recv_into", s.type() == SOCK_STREAM);
}
task<void> sock_sendall(socket& s, std::string_view data) {
    return sendall_op(s.handle(), data);
}
task<std::size_t> sock_sendto(socket& s, std::string_view data, socket_address address) {
    return sendto_op(s.handle(), data, address);
}
task<std::pair<std::string, socket_address>> sock_recvfrom(socket& s, std::size_t n) {
    return recvfrom_op(s.handle(), n);
}
task<std::pair<std::size_t, socket_address>> sock_recvfrom_into(socket& s, std::span<char> buf) {
    return recvfrom_into_op(s.handle(), buf, "weft::sock_recvfrom_into");
}

}  // namespace weft
