// ring_receive: a stream socket's receive through io_uring (see ring_receive.hpp).
#include "ring_receive.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/socket.h>

#include <weft/event_loop.hpp>

#include "ring_op.hpp"

namespace weft::detail {

completion_queue* socket_ring() noexcept {
    event_loop* loop = event_loop::current();
    if (loop == nullptr) return nullptr;
    return socket_completions(loop->poller());
}

io_attempt ring_receive::try_receive(io_handle h, completion_queue& ring, char* buf,
                                     std::size_t n) {
    io_attempt a;
    io_entry* e = h.entry;
    if (e == nullptr || !e->begin_op(h.gen)) {
        a.closed = true;
        return a;
    }
    // Read before the state below: a completion after this point bumps it,
    // so the reader's io_wait(seq) returns at once instead of missing it.
    a.seq = e->seq(io_dir::read);
    // Held across the syscall and the submit: a completion (on the ring's
    // thread) waits for them, and this reader sees its state whole.
    std::lock_guard lock(mutex_);
    if (pos_ < pending_.size()) {
        std::size_t k = std::min(n, pending_.size() - pos_);
        std::memcpy(buf, pending_.data() + pos_, k);
        pos_ += k;
        if (pos_ == pending_.size()) {
            // An idle connection holds no buffer of its own.
            if (pending_.capacity() > ring_recv_size) {
                std::string().swap(pending_);
            } else {
                pending_.clear();
            }
            pos_ = 0;
        }
        e->end_op();
        a.n = static_cast<ssize_t>(k);
        return a;
    }
    if (result_ <= 0) {
        // The end of the stream or an error the last request brought, said
        // once: a later receive asks the kernel again, as recv(2) would.
        if (result_ == 0) {
            a.n = 0;
        } else {
            a.err = -result_;
        }
        result_ = 1;
        e->end_op();
        return a;
    }
    if (in_flight_) {
        e->end_op();
        a.again = true;
        return a;
    }
    if (stopped_) {
        // cancel() came between our begin_op and this lock: the stream is
        // closing, and a request now would hold the socket open.
        e->end_op();
        a.closed = true;
        return a;
    }
    if (maybe_more_) {
        for (;;) {
            ssize_t r = ::recv(e->fd(), buf, n, MSG_DONTWAIT);
            if (r >= 0) {
                maybe_more_ = static_cast<std::size_t>(r) == n;
                e->end_op();
                a.n = r;
                return a;
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                a.err = errno;
                e->end_op();
                return a;
            }
            maybe_more_ = false;
            break;
        }
    }
    // Nothing there: a request, which keeps the operation reference until
    // its completion (on_done).
    asked_ = static_cast<std::uint32_t>(std::min<std::size_t>(n, ring_recv_size));
    io_request r;
    r.op = io_request::kind::recv;
    r.fd = e->fd();
    r.size = asked_;
    h_ = h;
    ring_ = &ring;
    submit_holding(ring, r, this, self_, e);
    in_flight_ = true;
    a.again = true;
    return a;
}

void ring_receive::cancel() noexcept {
    std::lock_guard lock(mutex_);
    stopped_ = true;  // and no request after this one
    // Its CQE still comes (-ECANCELED, or the bytes if it was too late):
    // the reference it holds on the entry ends there, and the fd closes.
    if (in_flight_) ring_->cancel(this);
}

void ring_receive::on_done(completion_target* t, int res, const char* data) noexcept {
    auto* self = static_cast<ring_receive*>(t);
    std::shared_ptr<ring_receive> keep;  // may be the last reference: dies last
    io_handle h;
    {
        std::lock_guard lock(self->mutex_);
        keep = std::move(self->self_);
        h = self->h_;
        self->in_flight_ = false;
        if (res > 0) {
            self->pending_.append(data, static_cast<std::size_t>(res));
            self->maybe_more_ = static_cast<std::uint32_t>(res) == self->asked_;
        } else if (res == 0) {
            self->result_ = 0;
        } else if (res == -ECANCELED || res == -ENOBUFS || res == -EINTR || res == -EAGAIN) {
            // Cancelled (a close, which the next attempt sees), or no ring
            // buffer was free: nothing was read, the next attempt starts
            // with a syscall.
            self->maybe_more_ = true;
        } else {
            self->result_ = res;
        }
    }
    // An edge for the reader, then the operation reference goes (which may
    // close the fd, if it is closing).
    h.entry->notify(io_dir::read);
    h.entry->end_op();
}

}  // namespace weft::detail
