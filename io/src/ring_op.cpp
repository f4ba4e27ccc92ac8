// ring_op: one socket request through io_uring (see ring_op.hpp).
#include "ring_op.hpp"

#include <unistd.h>

#include <weft/detail/frame_allocator.hpp>

#include "ring_receive.hpp"

namespace weft::detail {

io_attempt ring_op::start(io_handle h, io_dir d, completion_queue& ring, io_request r) {
    io_attempt a;
    io_entry* e = h.entry;
    if (e == nullptr || !e->begin_op(h.gen)) {
        a.closed = true;
        return a;
    }
    // Read before the submit: the completion's edge comes after it, so the
    // waiter's io_wait(seq) cannot miss it.
    a.seq = e->seq(d);
    r.fd = e->fd();
    std::lock_guard lock(mutex_);
    WEFT_ASSERT(!in_flight_ && !result_, "one request at a time, its result taken");
    h_ = h;
    dir_ = d;
    ring_ = &ring;
    gives_fd_ = r.op == io_request::kind::accept;
    submit_holding(ring, r, this, self_, e);
    in_flight_ = true;
    a.again = true;
    return a;
}

std::optional<int> ring_op::take() noexcept {
    std::lock_guard lock(mutex_);
    return std::exchange(result_, std::nullopt);
}

void ring_op::abandon() noexcept {
    std::lock_guard lock(mutex_);
    abandoned_ = true;
    // Its CQE still comes (-ECANCELED, or what it did if it was too late),
    // and ends the operation reference it holds.
    if (in_flight_) {
        ring_->cancel(this);
    } else if (gives_fd_ && result_ && *result_ >= 0) {
        ::close(*result_);  // completed, never taken
        result_.reset();
    }
}

void ring_op::on_done(completion_target* t, int res, const char* /*data*/) noexcept {
    auto* self = static_cast<ring_op*>(t);
    std::shared_ptr<ring_op> keep;  // may be the last reference: dies last
    io_handle h;
    io_dir d;
    {
        std::lock_guard lock(self->mutex_);
        keep = std::move(self->self_);
        h = self->h_;
        d = self->dir_;
        self->in_flight_ = false;
        if (self->abandoned_) {
            // A connection the kernel accepted after all: nobody takes it
            // (the accept loop ended with its listener), so it goes as the
            // listener's queue would have at its close.
            if (self->gives_fd_ && res >= 0) ::close(res);
        } else {
            self->result_ = res;
        }
    }
    // An edge for the waiter, then the operation reference goes (which may
    // close the fd, if it is closing).
    h.entry->notify(d);
    h.entry->end_op();
}

namespace {

// From the runtime's pool: a server makes one for every connection it
// closes.
struct detached_request final : completion_target, pooled {
    detached_request(io_request::kind k, int f, io_handle handle) noexcept
        : op(k), fd(f), h(handle) {
        on_complete = &done;
    }
    io_request::kind op;
    int fd;
    io_handle h;

    static void done(completion_target* t, int res, const char* /*data*/) noexcept {
        auto* self = static_cast<detached_request*>(t);
        if (res == -ECANCELED && self->op == io_request::kind::close) ::close(self->fd);
        if (self->h.entry != nullptr) self->h.entry->end_op();
        delete self;
    }
};

}  // namespace

bool submit_detached(const io_request& r, io_handle h) noexcept {
    completion_queue* ring = socket_ring();
    if (ring == nullptr) return false;
    detached_request* d = nullptr;
    try {
        d = new detached_request(r.op, r.fd, h);
        ring->submit(r, d);
        return true;
    } catch (...) {
        delete d;  // no memory, or no room in the ring
        return false;
    }
}

task<int> ring_call(io_handle h, io_dir d, completion_queue& ring, std::shared_ptr<ring_op> op,
                    io_request r, const char* what) {
    io_attempt a = op->start(h, d, ring, r);
    // From here until the result is taken, leaving (a cancel, a close)
    // abandons the request.
    struct abandon_guard {
        ring_op* op;
        ~abandon_guard() {
            if (op != nullptr) op->abandon();
        }
    } guard{a.closed ? nullptr : op.get()};
    for (;;) {
        if (std::optional<int> res = op->take()) {
            guard.op = nullptr;
            co_return *res;
        }
        co_await until_ready(h, d, a, what);
        // The edge count first, then the result: a completion after this
        // read bumps it, and the next wait sees that.
        a.seq = h.entry->seq(d);
    }
}

}  // namespace weft::detail
