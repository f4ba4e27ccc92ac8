// start_server: listening sockets, an accept-loop task per socket, a handler
// task per connection, and asyncio.Server's close / wait_closed /
// serve_forever bookkeeping.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <mutex>
#include <optional>
#include <unordered_set>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/detail/budget_yield.hpp>
#include <weft/event_loop.hpp>
#include <weft/future.hpp>
#include <weft/io/resolver.hpp>
#include <weft/io/server.hpp>
#include <weft/sleep.hpp>
#include <weft/task_handle.hpp>
#include <weft/wait_for.hpp>

#include "fd_transport.hpp"
#include "ring_op.hpp"
#include "ring_receive.hpp"
#include "stream_link.hpp"
#include "transport.hpp"
#if WEFT_HAVE_TLS
#include <weft/tls/ssl_context.hpp>

#include "tls_transport.hpp"
#endif

namespace weft {

namespace detail {

// Shared by the server handles, the accept loops and the connection tasks
// (which may run on any worker in Go mode): `mutex` guards the rest.
struct server_state {
    server_state(client_connected h, server_options o) : handler(std::move(h)), options(o) {}

    const client_connected handler;
    const server_options options;
    // Set before the accept loops start; closed (never erased) by close(),
    // so the loops' references stay valid.
    std::vector<socket> listeners;
    std::vector<socket_address> addresses;
    std::string unix_path;  // a Unix server's socket file, removed on close

    mutable std::mutex mutex;
    bool closed = false;
    bool clients_closed = false;  // close_clients/abort_clients was called
    std::size_t active = 0;
    std::unordered_set<fd_transport*> clients;  // each kept alive by its task
    std::vector<future<void>> closed_waiters;
    std::optional<future<void>> forever;

    void close() {
        std::vector<future<void>> wake;
        std::optional<future<void>> stop;
        {
            std::lock_guard lock(mutex);
            if (closed) return;
            closed = true;
            for (const socket& l : listeners) {
                // The fd is closed, the socket objects stay untouched: the
                // accept loops, on other workers, read their handles without
                // this mutex, then see the closed generation (closed_error)
                // and end. (socket::close() would also clear the handle: a
                // data race with those reads.)
                detail::io_handle h = l.handle();
                if (h.entry == nullptr) continue;
                // It stops listening now, as asyncio's close() does: an
                // accept in flight in an io_uring ring holds the socket
                // until its completion, and the fd's close waits for that.
                // (A listener's shutdown refuses new connections and ends
                // a pending accept with EINVAL.)
                // The generation is closed first, so that an accept loop
                // that hears of the shutdown also finds it closed.
                bool held = h.entry->begin_op(h.gen);
                h.entry->close(h.gen);
                if (held) {
                    ::shutdown(h.entry->fd(), SHUT_RDWR);
                    h.entry->end_op();
                }
            }
            if (!unix_path.empty()) ::unlink(unix_path.c_str());
            stop.swap(forever);
            if (active == 0) wake.swap(closed_waiters);
        }
        if (stop) stop->try_set_result();
        for (auto& f : wake)
            f.try_set_result();
    }
};

namespace {

// Go's accept backoff: 5 ms doubling to 1 s; asyncio waits 1 s flat.
constexpr double first_accept_delay = 0.01;
constexpr double max_accept_delay = 1.0;

bool out_of_resources(int err) {
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

void report(const std::string& message, std::exception_ptr e) {
    if (event_loop* loop = event_loop::current()) {
        loop->call_exception_handler(exception_context{message, std::move(e), {}});
    }
}

task<void> run_client(std::shared_ptr<server_state> st, std::shared_ptr<fd_transport> t) {
    std::exception_ptr failure;
    std::shared_ptr<transport> conn = t;
#if WEFT_HAVE_TLS
    if (st->options.ssl != nullptr) {
        // The handshake first, within its timeout: a client that fails it
        // (or stalls) never reaches the handler, and its connection is
        // aborted by tls_transport::open. asyncio reports these to the
        // loop's exception handler too ("SSL handshake failed").
        tls_settings settings;
        settings.context = st->options.ssl;
        settings.server_side = true;
        settings.handshake_timeout = st->options.ssl_handshake_timeout;
        settings.shutdown_timeout = st->options.ssl_shutdown_timeout;
        std::exception_ptr refused;
        try {
            conn = co_await tls_transport::open(t, std::move(settings), "weft::start_server");
        } catch (const cancelled_error&) {
            conn = nullptr;
        } catch (...) {
            conn = nullptr;
            refused = std::current_exception();
        }
        if (refused) report("TLS handshake failed with " + t->peername().to_string(), refused);
    }
#endif
    // The handler's streams share a link: a start_tls in the handler
    // upgrades both, and the close below uses what the link has then.
    std::shared_ptr<stream_link> link;
    try {
        if (conn) {
            link = std::make_shared<stream_link>(conn);
            co_await st->handler(stream_reader(link, st->options.limit), stream_writer(link));
        }
    } catch (const cancelled_error&) {
        // The runner cancels every task at shutdown: nothing to report.
    } catch (const closed_error&) {
        // Expected when the server closed its clients under their reads.
        std::lock_guard lock(st->mutex);
        if (!st->clients_closed) failure = std::current_exception();
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        report("Unhandled exception in client_connected_cb", failure);
        t->abort();
    } else if (link && t->reads_stopped()) {
        // close_clients() ended the handler's reads: close with a FIN and
        // read what the peer still sends until it closes too, so that no
        // unread byte makes the close a reset. The connection counts as
        // active until then (wait_closed waits; abort_clients ends it).
        try {
            link->get().close();  // TLS: close_notify first; the fd only half-closes
            co_await fd_transport::linger_close(t);
        } catch (const cancelled_error&) {
            t->abort();  // the runner is shutting down
        }
    }
    std::vector<future<void>> wake;
    {
        std::lock_guard lock(st->mutex);
        st->clients.erase(t.get());
        if (--st->active == 0 && st->closed) wake.swap(st->closed_waiters);
    }
    for (auto& f : wake)
        f.try_set_result();
}

// An accept loop's state on io_uring: its request, and whether the queue
// may hold more connections than the last one taken.
struct ring_acceptor {
    std::shared_ptr<detail::ring_op> op;
    bool maybe_more = true;
};

// accept4 on `listener` at once: the fd, or -errno (-EAGAIN: the queue is
// empty; -EBADF: the listener is closed).
int accept_now(const socket& listener, socket_address& peer) {
    detail::io_handle h = listener.handle();
    if (h.entry == nullptr || !h.entry->begin_op(h.gen)) return -EBADF;
    int fd;
    do {
        *peer.size_ptr() = socket_address::capacity;
        fd = ::accept4(h.entry->fd(), peer.data(), peer.size_ptr(), SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    int err = errno;
    h.entry->end_op();
    return fd >= 0 ? fd : -(err == EWOULDBLOCK ? EAGAIN : err);
}

// The next connection of `listener`. On io_uring an accept loop waits for
// one with an accept request in the ring (`ring`, kept across calls), whose
// completion brings the connection: no accept4 after a readiness edge. As
// with a stream's receive (ring_receive), a first accept, and one after a
// connection was taken, tries accept4 first: a burst of connections is
// taken at once rather than one ring round trip each. sock_accept stays on
// readiness: a cancelled sock_accept must not take a connection it cannot
// hand over, while an accept loop ends only with its listener, and a
// connection the kernel accepts after that goes as the listener's queued
// ones do.
task<std::pair<socket, socket_address>> accept_next(socket& listener, ring_acceptor& ring) {
    detail::completion_queue* cq = detail::socket_ring();
    if (cq == nullptr) co_return co_await sock_accept(listener);
    if (!ring.op) ring.op = std::make_shared<detail::ring_op>();
    for (;;) {
        socket_address peer;
        int res = -EAGAIN;
        if (ring.maybe_more) {
            res = accept_now(listener, peer);
            if (res == -EBADF) detail::throw_closed("weft::sock_accept");
            ring.maybe_more = res != -EAGAIN;
        }
        if (res == -EAGAIN) {
            *ring.op->address.size_ptr() = socket_address::capacity;
            detail::io_request r;
            r.op = detail::io_request::kind::accept;
            r.data = ring.op->address.data();
            r.size_out = ring.op->address.size_ptr();
            res = co_await detail::ring_call(listener.handle(), detail::io_dir::read, *cq, ring.op,
                                             r, "weft::sock_accept");
            peer = ring.op->address;
            ring.maybe_more = res >= 0;
        }
        // The peer gave up before we took it: take the next one.
        if (res == -ECONNABORTED || res == -EPROTO) continue;
        // The server's close ends it (EINVAL, from the listener's shutdown).
        if (res < 0 && !listener.is_open()) detail::throw_closed("weft::sock_accept");
        if (res < 0) detail::throw_io_error("weft::sock_accept", -res);
        std::pair conn{socket::from_nonblocking(res, listener.family(), listener.type()), peer};
        co_await detail::budget_yield{};
        co_return conn;
    }
}

// TCP_NODELAY on an accepted TCP connection, as asyncio sets it. The
// listener has it (start_accepting), and Linux copies a listener's options
// to the sockets it accepts: once the first connection shows that
// (`inherited` > 0), the others need no system call. If it does not (the
// listener's option could not be set), each connection sets it.
void set_nodelay(socket& s, int& inherited) {
    if (inherited > 0) return;
    try {
        if (inherited == 0) {
            inherited = s.getsockopt(IPPROTO_TCP, TCP_NODELAY) != 0 ? 1 : -1;
            if (inherited > 0) return;
        }
        s.set_nodelay(true);
    } catch (const std::system_error&) {
    }
}

task<void> accept_loop(std::shared_ptr<server_state> st, std::size_t index) {
    socket& listener = st->listeners[index];
    ring_acceptor ring_accept;
    int nodelay_inherited = 0;
    double delay = 0;
    for (;;) {
        std::optional<std::pair<socket, socket_address>> conn;
        std::exception_ptr failure;
        bool resources = false;
        try {
            conn.emplace(co_await accept_next(listener, ring_accept));
        } catch (const closed_error&) {
            co_return;  // the server was closed
        } catch (const std::system_error& e) {
            failure = std::current_exception();
            resources = out_of_resources(e.code().value());
        }
        if (failure) {
            // Back off instead of spinning: the pending connections keep the
            // socket readable, and retrying at once would fail again.
            delay = delay == 0 ? first_accept_delay : std::min(delay * 2, max_accept_delay);
            char msg[160];
            std::snprintf(msg, sizeof msg, "weft::server: accept() %s on %s; retrying in %.0f ms",
                          resources ? "out of system resources" : "failed",
                          st->addresses[index].to_string().c_str(), delay * 1000);
            report(msg, failure);
            co_await sleep(delay);
            continue;
        }
        delay = 0;
        std::shared_ptr<fd_transport> t;
        {
            socket& s = conn->first;
            if (s.family() == AF_INET || s.family() == AF_INET6) set_nodelay(s, nodelay_inherited);
            t = fd_transport::from_socket(std::move(s), &conn->second);
        }
        {
            std::lock_guard lock(st->mutex);
            ++st->active;
            st->clients.insert(t.get());
        }
        create_task(run_client(st, std::move(t)), "weft.io.client");
    }
}

task<void> serve_forever_op(std::shared_ptr<server_state> st) {
    future<void> stop;
    {
        std::lock_guard lock(st->mutex);
        if (st->closed) throw std::logic_error("weft::server::serve_forever: the server is closed");
        if (st->forever) {
            throw std::logic_error("weft::server::serve_forever: already running in another task");
        }
        st->forever = stop;
    }
    std::exception_ptr cancelled;
    try {
        co_await stop;
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (cancelled) {
        st->close();
        std::rethrow_exception(cancelled);
    }
}

task<void> wait_closed_op(std::shared_ptr<server_state> st) {
    future<void> done;
    {
        std::lock_guard lock(st->mutex);
        if (st->closed && st->active == 0) co_return;
        st->closed_waiters.push_back(done);
    }
    co_await done;
}

void start_accepting(const std::shared_ptr<server_state>& st) {
    for (std::size_t i = 0; i < st->listeners.size(); ++i) {
        socket& l = st->listeners[i];
        st->addresses.push_back(l.getsockname());
        if (l.family() == AF_INET || l.family() == AF_INET6) {
            try {
                l.set_nodelay(true);  // for the connections it accepts (set_nodelay)
            } catch (const std::system_error&) {
            }
        }
    }
    for (std::size_t i = 0; i < st->listeners.size(); ++i) {
        create_task(accept_loop(st, i), "weft.io.accept " + st->addresses[i].to_string());
    }
}

[[noreturn]] void bind_failed(const std::system_error& e, const socket_address& a) {
    throw std::system_error(e.code(), "weft::start_server: cannot bind to " + a.to_string());
}

}  // namespace

}  // namespace detail

// ---- server

server::server(std::shared_ptr<detail::server_state> s) noexcept : s_(std::move(s)) {}

server& server::operator=(server&& o) noexcept {
    if (this != &o) {
        if (s_) s_->close();
        s_ = std::move(o.s_);
    }
    return *this;
}

server::~server() {
    if (s_) s_->close();
}

void server::close() {
    if (s_) s_->close();
}

void server::close_clients() {
    if (!s_) return;
    std::lock_guard lock(s_->mutex);
    s_->clients_closed = true;
    for (detail::fd_transport* t : s_->clients)
        t->stop_reading();
}

void server::abort_clients() {
    if (!s_) return;
    std::lock_guard lock(s_->mutex);
    s_->clients_closed = true;
    for (detail::fd_transport* t : s_->clients)
        t->abort();
}

task<void> server::wait_closed() {
    if (!s_) throw std::logic_error("weft::server: no server (default-constructed or moved from)");
    return detail::wait_closed_op(s_);
}

task<bool> server::shutdown(double grace_period) {
    if (!s_) throw std::logic_error("weft::server: no server (default-constructed or moved from)");
    if (!(grace_period >= 0)) {
        throw std::invalid_argument("weft::server::shutdown: the grace period must be >= 0, got " +
                                    std::to_string(grace_period));
    }
    close();
    close_clients();
    bool timed_out = false;
    try {
        co_await wait_for(detail::wait_closed_op(s_), grace_period);
    } catch (const timeout_error&) {
        timed_out = true;
    }
    if (timed_out) abort_clients();
    co_return !timed_out;
}

task<void> server::serve_forever() {
    if (!s_) throw std::logic_error("weft::server: no server (default-constructed or moved from)");
    return detail::serve_forever_op(s_);
}

bool server::is_serving() const {
    if (!s_) return false;
    std::lock_guard lock(s_->mutex);
    return !s_->closed;
}

std::vector<socket_address> server::addresses() const {
    if (!s_) return {};
    return s_->addresses;
}

std::size_t server::active_connections() const {
    if (!s_) return 0;
    std::lock_guard lock(s_->mutex);
    return s_->active;
}

// ---- starting

namespace detail {
namespace {
// TLS settings that would fail every connection fail the start instead.
void check_tls_options(const server_options& options) {
    if (options.ssl == nullptr) return;
#if WEFT_HAVE_TLS
    if (options.ssl->purpose() != ssl_purpose::client_auth) {
        throw std::invalid_argument(
            "weft::start_server: a server needs an ssl_context made for it "
            "(ssl_context::create_default(ssl_purpose::client_auth)), not a client's");
    }
    for (auto [name, value] : {std::pair{"ssl_handshake_timeout", options.ssl_handshake_timeout},
                               std::pair{"ssl_shutdown_timeout", options.ssl_shutdown_timeout}}) {
        if (!(value > 0) || std::isinf(value)) {
            throw std::invalid_argument(std::string("weft::start_server: ") + name +
                                        " must be a positive number of seconds, not " +
                                        std::to_string(value));
        }
    }
#else
    throw std::invalid_argument(
        "weft::start_server: ssl was given but weft was built without TLS (OpenSSL 3's "
        "development files, Debian's libssl-dev, were not found)");
#endif
}

server make_server(client_connected handler, std::vector<socket> listeners, server_options options,
                   std::string unix_path = {}) {
    if (!handler) throw std::invalid_argument("weft::start_server: no handler");
    check_tls_options(options);
    auto st = std::make_shared<server_state>(std::move(handler), options);
    st->listeners = std::move(listeners);
    st->unix_path = std::move(unix_path);
    start_accepting(st);
    return server(std::move(st));
}
}  // namespace
}  // namespace detail

server serve_sockets(client_connected handler, std::vector<socket> listeners,
                     server_options options) {
    return detail::make_server(std::move(handler), std::move(listeners), options);
}

task<server> start_server(client_connected handler, std::string host, std::uint16_t port,
                          server_options options) {
    if (!handler) throw std::invalid_argument("weft::start_server: no handler");
    std::vector<address_info> infos =
        co_await getaddrinfo(host, port, options.family, SOCK_STREAM, 0, AI_PASSIVE);
    std::vector<socket> listeners;
    std::vector<socket_address> seen;
    for (const address_info& ai : infos) {
        if (std::find(seen.begin(), seen.end(), ai.address) != seen.end()) continue;
        seen.push_back(ai.address);
        socket s(ai.family, SOCK_STREAM, ai.protocol);
        if (options.reuse_address) s.set_reuse_address(true);
        if (options.reuse_port) s.set_reuse_port(true);
        // As asyncio: an IPv6 socket takes IPv6 only, its IPv4 twin the rest.
        if (ai.family == AF_INET6) s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
        try {
            s.bind(ai.address);
        } catch (const std::system_error& e) {
            detail::bind_failed(e, ai.address);
        }
        s.listen(options.backlog);
        listeners.push_back(std::move(s));
    }
    if (listeners.empty()) {
        throw resolve_error(0, "weft::start_server('" + host + "', " + std::to_string(port) +
                                   "): no address to listen on");
    }
    co_return serve_sockets(std::move(handler), std::move(listeners), options);
}

task<server> start_unix_server(client_connected handler, std::string path, server_options options) {
    if (!handler) throw std::invalid_argument("weft::start_unix_server: no handler");
    if (path.empty()) throw std::invalid_argument("weft::start_unix_server: empty path");
    struct stat st {};
    if (path.front() != '\0' && ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
        ::unlink(path.c_str());  // a stale socket from an earlier run, as asyncio
    }
    socket s(AF_UNIX, SOCK_STREAM);
    socket_address where = socket_address::unix_path(path);
    try {
        s.bind(where);
    } catch (const std::system_error& e) {
        detail::bind_failed(e, where);
    }
    s.listen(options.backlog);
    std::vector<socket> listeners;
    listeners.push_back(std::move(s));
    // The socket file is removed on close (asyncio 3.13's cleanup_socket).
    co_return detail::make_server(std::move(handler), std::move(listeners), options,
                                  path.front() != '\0' ? path : std::string());
}

}  // namespace weft
