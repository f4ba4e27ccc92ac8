// fd_transport: a stream over a socket or pipe (see fd_transport.hpp).
#include "fd_transport.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/detail/budget_yield.hpp>
#include <weft/task_handle.hpp>

#include "io_wait.hpp"
#include "ring_op.hpp"
#include "ring_receive.hpp"
#include "scratch.hpp"

namespace weft::detail {

fd_transport::fd_transport(io_handle h, kind k) : h_(h), kind_(k) {
    on_complete = &on_sent;
}

fd_transport::~fd_transport() {
    // The last reference (user handles, any flusher, a send in flight) is
    // gone: nothing can be waiting for the write queue any more. A receive
    // in the ring holds the fd open until it is cancelled.
    if (h_.entry != nullptr) h_.entry->close(h_.gen);
    if (rx_) rx_->cancel();
}

std::shared_ptr<fd_transport> fd_transport::from_socket(socket s,
                                                        const socket_address* known_peer) {
    socket_address peer, local;
    try {
        peer = known_peer != nullptr ? *known_peer : s.getpeername();
        local = s.getsockname();
    } catch (const std::system_error&) {
        // Not connected (yet, or any more): leave them unspecified.
    }
    int fd = s.detach();
    if (fd < 0) throw_closed("weft::open_stream");
    auto t = std::make_shared<fd_transport>(io_entry::open(fd), kind::socket);
    t->peer_ = peer;
    t->local_ = local;
    return t;
}

std::shared_ptr<fd_transport> fd_transport::from_pipe(int fd) {
    return std::make_shared<fd_transport>(io_entry::open(fd), kind::pipe);
}

ssize_t fd_transport::receive(int fd, char* buf, std::size_t n) const noexcept {
    if (kind_ == kind::socket) return ::recv(fd, buf, n, 0);
    return ::read(fd, buf, n);
}

ring_receive* fd_transport::receiver() {
    // acquire: pairs with the release below; rx_ is complete.
    ring_receive* r = rx_ready_.load(std::memory_order_acquire);
    if (r != nullptr) return r;
    std::lock_guard lock(mutex_);
    if (!rx_) {
        rx_ = std::make_shared<ring_receive>();
        rx_ready_.store(rx_.get(), std::memory_order_release);
    }
    return rx_.get();
}

io_attempt fd_transport::try_receive(char* buf, std::size_t n) {
    if (kind_ == kind::socket) {
        if (completion_queue* ring = socket_ring())
            return receiver()->try_receive(h_, *ring, buf, n);
    }
    io_attempt a = try_io(
        h_, io_dir::read, [&](int fd) { return receive(fd, buf, n); }, true);
    // A short receive emptied the socket's buffer: the next one can wait
    // for an edge without trying (io_entry::note_drained).
    if (a.n > 0 && static_cast<std::size_t>(a.n) < n) h_.entry->note_drained(io_dir::read, a.seq);
    return a;
}

ssize_t write_without_sigpipe(int fd, const char* data, std::size_t n) noexcept {
    // A write to a pipe whose reader is gone raises SIGPIPE, which by
    // default kills the process; there is no MSG_NOSIGNAL for write(). The
    // signal is thread-directed and synchronous, so blocking it on this
    // thread for the call leaves it pending here, where sigtimedwait takes
    // it before the mask is restored: the write just fails with EPIPE, and
    // SIGPIPE's disposition stays the program's. (A SIGPIPE the thread had
    // blocked already is left alone: it may be the program's own.)
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t r = ::write(fd, data, n);
    int err = errno;
    if (r < 0 && err == EPIPE && !sigismember(&old, SIGPIPE)) {
        timespec zero{0, 0};
        while (::sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = err;
    return r;
}

ssize_t fd_transport::send_some(int fd, const char* data, std::size_t n) const noexcept {
    // A peer gone away must be an EPIPE error here, not a SIGPIPE for the
    // process: MSG_NOSIGNAL for sockets, a blocked signal for pipes.
    if (kind_ == kind::socket) return ::send(fd, data, n, MSG_NOSIGNAL);
    return write_without_sigpipe(fd, data, n);
}

void fd_transport::check_writable_locked(const char* what) const {
    if (error_) std::rethrow_exception(error_);
    if (closing_ || closed_) {
        throw closed_error(std::string(what) + ": the stream is closed");
    }
    if (eof_requested_) {
        throw std::logic_error(std::string(what) + ": cannot write after write_eof()");
    }
}

void fd_transport::update_pause_locked(wake_list* wake) {
    std::size_t queued = queued_locked();
    if (!paused_ && queued > high_) {
        paused_ = true;
    } else if (paused_ && queued <= low_) {
        paused_ = false;
        // Below the low water mark: drain() returns.
        if (wake != nullptr) {
            for (auto& f : drain_waiters_)
                wake->add(std::move(f));
            drain_waiters_.clear();
        }
    }
}

void fd_transport::write(std::string_view data) {
    std::unique_lock lock(mutex_);
    check_writable_locked("weft::stream_writer::write");
    if (data.empty()) return;
    if (wbuf_.size() == wpos_ && !flushing_ && kind_ == kind::socket) {
        if (completion_queue* ring = socket_ring()) {
            // Nothing queued: a send request, submitted with the loop's
            // next wait; its completion sends whatever is queued by then.
            sending_.assign(data);
            sent_ = 0;
            if (!submit_send_locked(*ring)) {
                sending_.clear();
                throw closed_error("weft::stream_writer::write: the stream is closed");
            }
            flushing_ = true;
            update_pause_locked();
            return;
        }
    }
    if (wbuf_.size() == wpos_ && !flushing_) {
        // Nothing queued: try to send it all right now (asyncio does).
        io_attempt a = try_io(h_, io_dir::write,
                              [&](int fd) { return send_some(fd, data.data(), data.size()); });
        if (a.closed) throw closed_error("weft::stream_writer::write: the stream is closed");
        if (a.n >= 0) {
            data.remove_prefix(static_cast<std::size_t>(a.n));
            if (data.empty()) return;
        } else if (!a.again) {
            std::exception_ptr e;
            {
                wake_list wake;
                fail_locked("weft::stream_writer::write", a.err, wake);
                e = error_;
                lock.unlock();
            }
            std::rethrow_exception(e);
        }
    }
    if (wpos_ > 0 && wpos_ >= wbuf_.size() / 2) {
        wbuf_.erase(0, wpos_);
        wpos_ = 0;
    }
    wbuf_.append(data);
    update_pause_locked();
    if (flushing_) return;
    flushing_ = true;
    lock.unlock();
    create_task(flush(shared_from_this()), "weft.io.flush");
}

task<void> fd_transport::flush(std::shared_ptr<fd_transport> self) {
    // A cancelled flusher (the runner cancels every task at shutdown) leaves
    // the queue to whoever writes next.
    struct on_exit {
        fd_transport* t;
        bool done = false;
        ~on_exit() {
            if (!done) {
                std::lock_guard lock(t->mutex_);
                t->flushing_ = false;
            }
        }
    } guard{self.get()};
    for (;;) {
        wake_list wake;
        bool finished = false;
        io_attempt a;
        {
            std::lock_guard lock(self->mutex_);
            while (!self->closed_ && self->wpos_ < self->wbuf_.size()) {
                a = try_io(self->h_, io_dir::write, [&](int fd) {
                    return self->send_some(fd, self->wbuf_.data() + self->wpos_,
                                           self->wbuf_.size() - self->wpos_);
                });
                if (a.n > 0) {
                    self->wpos_ += static_cast<std::size_t>(a.n);
                    continue;
                }
                if (a.again) break;
                if (a.closed) {
                    self->close_now_locked(wake);
                } else {
                    self->fail_locked("weft::stream_writer: sending the write buffer", a.err, wake);
                }
                break;
            }
            finished = self->settle_locked(wake);
            if (finished) guard.done = true;
        }
        if (finished) co_return;  // `wake` completes its waiters as it goes
        if (!co_await io_wait(self->h_, io_dir::write, a.seq)) {
            wake_list closed_wake;
            std::lock_guard lock(self->mutex_);
            self->close_now_locked(closed_wake);
            self->flushing_ = false;
            guard.done = true;
            co_return;
        }
    }
}

bool fd_transport::settle_locked(wake_list& wake) {
    if (wpos_ == wbuf_.size()) {
        wbuf_.clear();
        wpos_ = 0;
    }
    update_pause_locked(&wake);
    if (!closed_ && queued_locked() > 0) return false;
    // Sent everything (or gave up): what was waiting for that now.
    flushing_ = false;
    if (!closed_) {
        if (eof_requested_ && !eof_sent_) shut_write_locked(wake);
        if (closing_) finish_close_locked(wake);
    }
    return true;
}

bool fd_transport::submit_send_locked(completion_queue& ring) {
    if (!h_.entry->begin_op(h_.gen)) return false;  // held until the CQE
    io_request r;
    r.op = io_request::kind::send;
    r.fd = h_.entry->fd();
    r.data = const_cast<char*>(sending_.data() + sent_);
    // A send may be short anyway; the completion sends the rest.
    r.size = static_cast<std::uint32_t>(std::min<std::size_t>(sending_.size() - sent_, 1u << 30));
    send_ring_ = &ring;
    submit_holding(ring, r, this, send_keep_, h_.entry);
    send_in_flight_ = true;
    return true;
}

void fd_transport::on_sent(completion_target* t, int res, const char* /*data*/) noexcept {
    auto* self = static_cast<fd_transport*>(t);
    std::shared_ptr<fd_transport> keep;  // may be the last reference: dies last
    wake_list wake;                      // completes its waiters after the unlock
    std::lock_guard lock(self->mutex_);
    keep = std::move(self->send_keep_);
    self->send_in_flight_ = false;
    self->h_.entry->end_op();
    if (self->closed_) {
        // Closed (aborted) meanwhile: the kernel is done with the bytes.
        self->sending_.clear();
        self->sent_ = 0;
        self->flushing_ = false;
        return;
    }
    if (res == -ECANCELED) {
        // Only close_now_locked cancels a send, and it set closed_; so this
        // is the ring going away with its loop (the runtime is ending). A
        // send submitted again would never complete: close, dropping what
        // is left, as asyncio does with a transport when its loop closes.
        self->close_now_locked(wake);
        self->sending_.clear();
        self->sent_ = 0;
        self->flushing_ = false;
        return;
    }
    if (res < 0 && res != -EINTR && res != -EAGAIN) {
        self->fail_locked("weft::stream_writer: sending the write buffer", -res, wake);
        self->sending_.clear();
        self->sent_ = 0;
        self->flushing_ = false;
        return;
    }
    if (res > 0) self->sent_ += static_cast<std::size_t>(res);
    if (self->sent_ == self->sending_.size()) {
        // All out: what was queued meanwhile goes next.
        self->sending_.clear();
        self->sent_ = 0;
        if (self->wpos_ < self->wbuf_.size()) {
            self->wbuf_.erase(0, self->wpos_);
            self->wpos_ = 0;
            self->sending_.swap(self->wbuf_);
        }
    }
    bool submitted = false;
    if (!self->sending_.empty()) {
        try {
            submitted = self->submit_send_locked(*self->send_ring_);
        } catch (const std::exception&) {
            self->fail_locked("weft::stream_writer: sending the write buffer", EIO, wake);
            self->sending_.clear();
            self->sent_ = 0;
            self->flushing_ = false;
            return;
        }
        if (!submitted) {
            // The fd is closing: what is left will never be sent.
            self->close_now_locked(wake);
            self->sending_.clear();
            self->sent_ = 0;
        }
    }
    self->settle_locked(wake);
}

task<void> fd_transport::drain() {
    std::optional<future<void>> wait;
    {
        std::lock_guard lock(mutex_);
        check_drain_locked();
        if (!paused_) co_return;  // the common case: no future made
        wait.emplace();
        drain_waiters_.push_back(*wait);
    }
    co_await *wait;
    // Waiters are woken without an error (an error nobody retrieves, when
    // the waiting task is cancelled meanwhile, would be reported): look.
    std::lock_guard lock(mutex_);
    check_drain_locked();
}

void fd_transport::check_drain_locked() const {
    if (error_) std::rethrow_exception(error_);
    if (lost_) {
        // asyncio's _drain_helper after connection_lost.
        throw connection_error(std::make_error_code(std::errc::connection_reset),
                               "weft::stream_writer::drain: connection lost");
    }
}

void fd_transport::write_eof() {
    wake_list wake;
    std::lock_guard lock(mutex_);
    if (closing_ || closed_ || eof_requested_) return;
    eof_requested_ = true;
    if (!flushing_ && wbuf_.size() == wpos_) shut_write_locked(wake);
}

void fd_transport::shut_write_locked(wake_list& wake) {
    eof_sent_ = true;
    if (kind_ == kind::pipe) {
        // A pipe's end of file is its write end closing.
        close_now_locked(wake);
        return;
    }
    if (h_.entry->begin_op(h_.gen)) {
        // On io_uring a request with the loop's next wait, which keeps the
        // operation reference until the kernel has done it.
        io_request r;
        r.op = io_request::kind::shutdown;
        r.fd = h_.entry->fd();
        r.flags = SHUT_WR;
        if (!submit_detached(r, h_)) {
            ::shutdown(h_.entry->fd(), SHUT_WR);
            h_.entry->end_op();
        }
    }
}

void fd_transport::close() {
    wake_list wake;
    std::lock_guard lock(mutex_);
    if (closing_ || closed_) return;
    closing_ = true;
    if (!flushing_ && wbuf_.size() == wpos_) finish_close_locked(wake);
}

void fd_transport::finish_close_locked(wake_list& wake) {
    if (linger_) {
        if (!eof_sent_) shut_write_locked(wake);
        return;  // linger_close() closes the fd once the peer is done
    }
    close_now_locked(wake);
}

void fd_transport::stop_reading() {
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        linger_ = kind_ == kind::socket;
    }
    // release: pairs with reads_stopped()'s acquire; the edge notify() adds
    // comes after it, so a reader that sees that edge sees the flag.
    reads_stopped_.store(true, std::memory_order_release);
    h_.entry->notify(io_dir::read);
}

task<void> fd_transport::linger_close(std::shared_ptr<fd_transport> self) {
    self->close();
    for (;;) {
        io_attempt a = try_io(self->h_, io_dir::read, [&](int fd) {
            return self->receive(fd, scratch_buffer(), scratch_size);
        });
        if (a.closed) co_return;  // aborted meanwhile
        if (a.again) {
            if (!co_await io_wait(self->h_, io_dir::read, a.seq)) co_return;
            continue;
        }
        if (a.n <= 0) break;      // the peer's end of stream, or an error
        co_await budget_yield{};  // a peer that keeps sending shares the worker
    }
    {
        wake_list wake;
        std::lock_guard lock(self->mutex_);
        self->linger_ = false;
        // Still sending: the flusher closes once the queue is out.
        if (!self->flushing_) self->close_now_locked(wake);
    }
    try {
        co_await self->wait_closed();
    } catch (const std::exception&) {
        // A send that failed meanwhile: the connection is over either way.
    }
}

void fd_transport::abort() {
    wake_list wake;
    std::lock_guard lock(mutex_);
    closing_ = true;
    wbuf_.clear();
    wpos_ = 0;
    close_now_locked(wake);
}

bool fd_transport::is_closing() const {
    std::lock_guard lock(mutex_);
    return closing_ || closed_;
}

task<void> fd_transport::wait_closed() {
    future<void> wait;
    bool closed;
    {
        std::lock_guard lock(mutex_);
        closed = closed_;
        if (!closed) close_waiters_.push_back(wait);
    }
    if (!closed) co_await wait;
    // asyncio: wait_closed() raises the error the connection was lost with.
    std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(error_);
}

std::size_t fd_transport::write_buffer_size() const {
    std::lock_guard lock(mutex_);
    return queued_locked();
}

void fd_transport::set_write_buffer_limits(std::size_t high, std::size_t low) {
    if (low > high) {
        throw std::invalid_argument("weft::stream_writer::set_write_buffer_limits: high (" +
                                    std::to_string(high) + ") must be >= low (" +
                                    std::to_string(low) + ")");
    }
    wake_list wake;
    std::lock_guard lock(mutex_);
    high_ = high;
    low_ = low;
    update_pause_locked(&wake);
}

std::pair<std::size_t, std::size_t> fd_transport::write_buffer_limits() const {
    std::lock_guard lock(mutex_);
    return {low_, high_};
}

void fd_transport::fail_locked(const char* what, int err, wake_list& wake) {
    try {
        throw_io_error(what, err);
    } catch (...) {
        if (!error_) error_ = std::current_exception();
    }
    // asyncio's _fatal_error: the transport closes, the queue is dropped.
    wbuf_.clear();
    wpos_ = 0;
    close_now_locked(wake);
}

void fd_transport::close_now_locked(wake_list& wake) {
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    // Bytes that will never be sent: drain() reports the connection lost.
    if (paused_ || queued_locked() > 0) lost_ = true;
    paused_ = false;
    wbuf_.clear();
    wpos_ = 0;
    h_.entry->close(h_.gen);  // a pending read raises closed_error
    // Requests in the ring hold the fd open until their CQEs: end them.
    // (sending_ stays until its CQE: the kernel may still be reading it.)
    if (send_in_flight_) send_ring_->cancel(this);
    if (rx_) rx_->cancel();
    for (auto& f : drain_waiters_)
        wake.add(std::move(f));
    drain_waiters_.clear();
    for (auto& f : close_waiters_)
        wake.add(std::move(f));
    close_waiters_.clear();
}

fd_transport::wake_list::~wake_list() {
    for (future<void>& f : items)
        f.try_set_result();
}

}  // namespace weft::detail
