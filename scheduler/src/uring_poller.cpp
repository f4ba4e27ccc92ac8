// io_uring behind detail::poller: readiness through the ring, so that every
// caller of the poller (sockets, pipes, add_reader, the process pool, the
// loop's wake-up eventfd) runs unchanged on it. Built only with liburing.
//
// How readiness maps onto the ring:
//   - Edge interest is one multishot IORING_OP_POLL_ADD (edge-triggered, as
//     io_uring polls are unless asked for levels): a CQE per change, and the
//     request stays armed. When the kernel ends it anyway (no
//     IORING_CQE_F_MORE: a CQ overflow, a cancellation) it is armed again.
//   - Level interest is a one-shot POLL_ADD armed again after each event is
//     dispatched. Arming checks the fd at once, so an fd still ready gives
//     its next CQE on the next wait, as epoll's level mode would.
//   - remove is an IORING_OP_POLL_REMOVE submitted before remove returns: a
//     pending poll holds a reference to the file, so until the kernel has
//     the removal a close() by the caller would not close the socket. The
//     kernel refuses it with -EALREADY while the poll's own wake-up is being
//     handled, and a multishot poll then stays armed: the owner asks again
//     when it reaps that answer (a child's stdin pipe left open this way
//     kept `cat` waiting for end of file).
//   - The wait's timeout is the timer heap's deadline, given to
//     io_uring_enter as an extended argument (no timeout SQE).
//
// File and socket requests (completion_queue.hpp) run in the ring as
// themselves: a CQE whose user_data carries the `completion` bit names the
// target to call with the result. A recv takes its buffer from the ring's
// provided buffers (a buffer ring, set up on the first recv) only when its
// data arrives, so a connection waiting for its peer holds no buffer; the
// target copies the bytes out during its call, and the buffer goes back to
// the ring at the end of that wait. Cancelling one is an IORING_OP_ASYNC_CANCEL; the
// request's own CQE still comes, and the target hears it. The destructor
// cancels what is still in flight and waits (a bounded time) for those
// CQEs, so that no target is left without its call.
//
// Identity. A CQE names its registration by user_data = generation << 32 |
// fd (see key()). Every add bumps the fd's generation, so a CQE of a registration that
// was removed (or replaced after the fd number was reused) is recognised as
// stale and dropped: the poll_target it would name may be gone.
//
// Threads. add/modify/remove may come from any thread (the I/O component
// closes an fd on whichever thread its owner runs), so the submission queue
// and the registration table are under `mutex_`. Only the thread that waits
// (the loop's owner, whoever drives it after a hand-off) reads completions.
// A poll's wake-up runs as task work of the thread that submitted it, so the
// owner submits what it can: level re-arms, and the registrations of the
// I/O component, which happen on the loop's thread. The ring's task work is
// cooperative (see the constructor): another thread that armed a poll and
// is running its own code when the fd turns ready passes the wake-up on at
// its next system call or scheduler tick, a few milliseconds at most; a
// sleeping one is woken for it at once.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/detail/completion_queue.hpp>
#include <weft/detail/poller.hpp>
#include <weft/detail/tsan.hpp>
#include <weft/io_backend.hpp>

namespace weft::detail {

namespace {

[[noreturn]] void fail(int code, const char* op, int fd) {
    throw std::system_error(code, std::generic_category(),
                            std::string("weft: io_uring ") + op + " fd " + std::to_string(fd));
}

// SQ entries; the CQ gets twice as many, and IORING_FEAT_NODROP keeps what
// overflows. A turn submits a few re-arms at most, so this is plenty.
constexpr unsigned ring_entries = 256;
// CQEs taken per peek, as epoll_wait's max_events.
constexpr unsigned max_events = 128;
// The provided buffers of recv requests: a buffer is taken when data
// arrives and given back once its CQE is dispatched, so at most the CQEs of
// one wait hold one (a request that finds none completes with -ENOBUFS and
// its stream falls back to a recv syscall). A full buffer tells the stream
// to try a plain recv next, with its own larger buffer: bulk transfers do
// not go 4 KiB at a time.
constexpr unsigned recv_buffers = 256;  // a power of two, as the kernel asks
constexpr unsigned recv_buffer_size = ring_recv_size;
constexpr unsigned short recv_group = 0;
// user_data: the registration a poll belongs to, generation (30 bits) and
// fd; a removal's is the same with `removal` set. A file request's is its
// target's address with `completion` set (and a cancel of it has both).
constexpr std::uint64_t removal = std::uint64_t{1} << 63;
constexpr std::uint64_t completion = std::uint64_t{1} << 62;
std::uint64_t key(int fd, std::uint32_t generation) noexcept {
    return std::uint64_t{generation & 0x3fff'ffffu} << 32 | static_cast<std::uint32_t>(fd);
}
std::uint64_t key(completion_target* t) noexcept {
    return reinterpret_cast<std::uintptr_t>(t) | completion;
}

std::uint32_t to_poll(std::uint32_t r) noexcept {
    std::uint32_t e = 0;
    if (r & readiness::readable) e |= POLLIN;
    if (r & readiness::writable) e |= POLLOUT;
    if (r & readiness::peer_closed) e |= POLLRDHUP;
    // hangup and error: the kernel always reports them.
    return e;
}

std::uint32_t from_poll(std::uint32_t e) noexcept {
    std::uint32_t r = 0;
    if (e & POLLIN) r |= readiness::readable;
    if (e & POLLOUT) r |= readiness::writable;
    if (e & POLLRDHUP) r |= readiness::peer_closed;
    if (e & POLLHUP) r |= readiness::hangup;
    if (e & (POLLERR | POLLNVAL)) r |= readiness::error;
    return r;
}

class uring_poller final : public poller, public completion_queue {
public:
    uring_poller() {
        // Cooperative task work (Linux 5.19): a poll's wake-up is queued as
        // task work of the thread that armed it without an interrupt
        // (IPI) to make a running thread take it at once. A sleeping thread
        // is still woken for it; a running one takes it at its next entry
        // to the kernel (the loop's own: its next peek or wait, which sees
        // IORING_SQ_TASKRUN and enters), or at the latest when the
        // scheduler's tick interrupts it. The IPIs were what made readiness
        // through the ring cost twice epoll's CPU per HTTP request on a
        // virtual machine, where every interrupt is an exit to the host.
        io_uring_params params{};
        params.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
        int r = ::io_uring_queue_init_params(ring_entries, &ring_, &params);
        if (r == -EINVAL) {
            params = io_uring_params{};  // a kernel before 5.19: interrupts, as before
            r = ::io_uring_queue_init_params(ring_entries, &ring_, &params);
        }
        if (r < 0) throw std::system_error(-r, std::generic_category(), "weft: io_uring_setup");
    }
    ~uring_poller() override {
        forget_socket_completions();
        finish_requests();
        ::io_uring_queue_exit(&ring_);  // unregisters the buffer ring with it
        if (buf_ring_ != nullptr) ::munmap(buf_ring_, recv_buffers * sizeof(io_uring_buf));
    }

    // ---- completion_queue
    void submit(const io_request& r, completion_target* t) override {
        // The kernel orders the submitter's writes before the CQE (the SQ
        // tail's release, the CQ tail's acquire); TSan cannot see through it
        // when the thread that reaps the CQE took the mutex before this
        // submit (it was already asleep in the wait). Tell it.
        tsan_release_object(t);
        std::lock_guard lock(mutex_);
        if (r.op == io_request::kind::recv && !sockets_ready_locked())
            fail(EOPNOTSUPP, "recv (the kernel has no provided buffer rings)", r.fd);
        io_uring_sqe* e = sqe();
        switch (r.op) {
            case io_request::kind::open:
                ::io_uring_prep_openat(e, AT_FDCWD, r.path, r.flags, r.mode);
                break;
            case io_request::kind::read:
                ::io_uring_prep_read(e, r.fd, r.data, r.size, r.offset);
                break;
            case io_request::kind::write:
                ::io_uring_prep_write(e, r.fd, r.data, r.size, r.offset);
                break;
            case io_request::kind::fsync:
                ::io_uring_prep_fsync(e, r.fd, 0);
                break;
            case io_request::kind::close:
                ::io_uring_prep_close(e, r.fd);
                break;
            case io_request::kind::recv:
                ::io_uring_prep_recv(e, r.fd, nullptr, std::min(r.size, recv_buffer_size), 0);
                e->flags |= IOSQE_BUFFER_SELECT;
                e->buf_group = recv_group;
                break;
            case io_request::kind::send:
                ::io_uring_prep_send(e, r.fd, r.data, r.size, MSG_NOSIGNAL);
                break;
            case io_request::kind::accept:
                static_assert(sizeof(socklen_t) == sizeof(std::uint32_t));
                ::io_uring_prep_accept(e, r.fd, static_cast<sockaddr*>(r.data),
                                       reinterpret_cast<socklen_t*>(r.size_out),
                                       SOCK_NONBLOCK | SOCK_CLOEXEC);
                break;
            case io_request::kind::connect:
                ::io_uring_prep_connect(e, r.fd, static_cast<const sockaddr*>(r.data), r.size);
                break;
            case io_request::kind::shutdown:
                ::io_uring_prep_shutdown(e, r.fd, r.flags);
                break;
        }
        ::io_uring_sqe_set_data64(e, key(t));
        in_flight_.fetch_add(1, std::memory_order_relaxed);
        // Counted as a registration, so that a busy loop still polls the
        // ring between its tasks (it skips the poll when nothing is
        // registered but its own wake-up fd).
        registered_.fetch_add(1, std::memory_order_relaxed);
        // The thread in wait() may be asleep, or past its submit: then hand
        // it to the kernel now. Otherwise the loop's next wait() submits it
        // with the others of the turn, in one io_uring_enter.
        if (waiting_) submit();
    }

    void cancel(completion_target* t) noexcept override {
        std::lock_guard lock(mutex_);
        try {
            cancel_request(key(t));
            submit();
        } catch (...) {
            // No room in the ring: the request runs to its end instead.
        }
    }

    void finish() noexcept override { finish_requests(); }

    bool takes_sockets() noexcept override {
        int known = sockets_.load(std::memory_order_relaxed);
        if (known != 0) return known > 0;
        std::lock_guard lock(mutex_);
        return sockets_ready_locked();
    }

    void add(int fd, std::uint32_t events, poll_target* target) override {
        check_pollable(fd);
        std::lock_guard lock(mutex_);
        slot& s = slot_of(fd);
        if (s.live) fail(EEXIST, "add", fd);
        s.live = true;
        s.generation++;
        s.events = events;
        s.target = target;
        arm(fd, s);
        submit();
        registered_.fetch_add(1, std::memory_order_relaxed);
    }

    void modify(int fd, std::uint32_t events, poll_target* target) override {
        std::lock_guard lock(mutex_);
        if (fd < 0 || static_cast<std::size_t>(fd) >= slots_.size() || !slots_[fd].live)
            fail(ENOENT, "modify", fd);
        slot& s = slots_[fd];
        // epoll drops an fd that was closed; the ring keeps polling the file
        // it took a reference to. Say ENOENT as epoll does, and let the old
        // poll go (and the file with it). As with epoll, the fd stays in the
        // count until forget().
        if (::fcntl(fd, F_GETFD) < 0) {
            cancel(s);
            s.live = false;
            s.target = nullptr;
            submit();
            fail(ENOENT, "modify", fd);
        }
        // A new poll rather than an update of the old one: the fd number may
        // name another file now, and the new poll watches the one it names.
        cancel(s);
        s.generation++;
        s.events = events;
        s.target = target;
        arm(fd, s);
        submit();
    }

    void remove(int fd) noexcept override { drop(fd, false); }
    void forget(int fd) noexcept override { drop(fd, true); }

    // Readable while a CQE waits in the ring.
    int fd() const noexcept override { return ring_.ring_fd; }

    int wait(std::int64_t timeout_ns) override {
        {
            std::lock_guard lock(mutex_);
            rearm_level();
            // Set before this submit, under the mutex: a request queued after
            // it sees the flag and submits itself (see submit(request)).
            waiting_ = true;
            submit();
        }
        io_uring_cqe* cqes[max_events];
        unsigned n = ::io_uring_peek_batch_cqe(&ring_, cqes, max_events);
        if (n == 0 && timeout_ns != 0) {
            io_uring_cqe* first = nullptr;
            __kernel_timespec ts{timeout_ns / 1'000'000'000, timeout_ns % 1'000'000'000};
            // With IORING_FEAT_EXT_ARG (the probe requires it) this waits
            // without an SQE, so it never touches the submission queue that
            // other threads fill under the mutex.
            int r = timeout_ns < 0 ? ::io_uring_wait_cqe(&ring_, &first)
                                   : ::io_uring_wait_cqe_timeout(&ring_, &first, &ts);
            if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN)
                throw std::system_error(-r, std::generic_category(), "weft: io_uring_enter");
            n = ::io_uring_peek_batch_cqe(&ring_, cqes, max_events);
        }
        // Copy out, then hand the CQEs back before dispatching: a callback
        // may add or remove fds, which only touches the SQ.
        struct event {
            std::uint64_t user_data;
            std::int32_t res;
            std::uint32_t flags;
        } got[max_events];
        for (unsigned i = 0; i < n; ++i)
            got[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
        ::io_uring_cq_advance(&ring_, n);

        int dispatched = 0;
        std::uint16_t used[max_events];  // provided buffers to give back
        unsigned n_used = 0;
        for (unsigned i = 0; i < n; ++i) {
            if ((got[i].user_data & completion) && !(got[i].user_data & removal)) {
                const char* data = nullptr;
                if (got[i].flags & IORING_CQE_F_BUFFER) {
                    auto id = static_cast<std::uint16_t>(got[i].flags >> IORING_CQE_BUFFER_SHIFT);
                    used[n_used++] = id;
                    data = buffer(id);
                }
                complete(got[i].user_data, got[i].res, data);
                ++dispatched;
                continue;
            }
            if (got[i].user_data & removal) {
                if (got[i].user_data & completion) continue;  // a cancel that came too late
                // A removal that failed. -EALREADY: the poll was being
                // completed right then and stays armed (a multishot one),
                // so ask again; -ENOENT: it had ended by itself.
                if (got[i].res == -EALREADY) {
                    std::lock_guard lock(mutex_);
                    retry_.push_back(got[i].user_data & ~removal);
                }
                continue;
            }
            int fd = static_cast<int>(got[i].user_data & 0xffff'ffffu);
            poll_target* target = nullptr;
            {
                // Looked up event by event, not for the batch: a callback
                // earlier in it may have removed this fd and freed its target.
                std::lock_guard lock(mutex_);
                if (static_cast<std::size_t>(fd) >= slots_.size()) continue;
                slot& s = slots_[fd];
                if (!s.live || key(fd, s.generation) != got[i].user_data) continue;  // stale
                if (!(s.events & readiness::edge) && ::fcntl(fd, F_GETFD) < 0) {
                    // Closed while watched (add_reader's users may close
                    // first). epoll drops such an fd with its pending
                    // events; so do we, or the poll, which keeps the file,
                    // would report it ready forever. The fd stays counted
                    // until forget(), as under epoll. Edge interest comes
                    // from the I/O entries, which remove before they close.
                    s.armed = false;
                    s.live = false;
                    s.target = nullptr;
                    continue;
                }
                if (!(got[i].flags & IORING_CQE_F_MORE)) {
                    // The poll is over: armed again once this turn's events
                    // are dispatched (level interest after every event, edge
                    // interest when the kernel ended its multishot).
                    s.armed = false;
                    rearm_.push_back(fd);
                }
                target = s.target;
            }
            if (got[i].res == -ECANCELED) continue;  // ended by the kernel; re-armed
            std::uint32_t events = got[i].res < 0
                                       ? readiness::error
                                       : from_poll(static_cast<std::uint32_t>(got[i].res));
            target->on_events(target, events);
            ++dispatched;
        }
        // Arm level interest again now rather than on the next wait: the
        // ring's fd (pollable_fd) must turn readable while such an fd is
        // still ready, as epoll's does. (This lock, taken on every wait
        // anyway, also ends the waiting state: requests made from now on
        // wait for the next wait's submit. Left set by an exception above,
        // it costs only early submits.)
        std::lock_guard lock(mutex_);
        waiting_ = false;
        give_back(used, n_used);
        if (!rearm_.empty() || !retry_.empty()) {
            rearm_level();
            for (std::uint64_t k : retry_)
                remove_request(k);
            retry_.clear();
            submit();
        }
        return dispatched;
    }

private:
    struct slot {
        poll_target* target = nullptr;
        std::uint32_t events = 0;
        std::uint32_t generation = 0;
        bool live = false;   // registered
        bool armed = false;  // a poll request of this generation is in the ring
    };

    // Refuses what epoll refuses, so that both backends say the same: a bad
    // fd (EBADF) and a regular file or directory (EPERM: always ready, the
    // caller must not wait for it).
    static void check_pollable(int fd) {
        struct stat st;
        if (::fstat(fd, &st) < 0) fail(errno, "add", fd);
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) fail(EPERM, "add", fd);
    }

    slot& slot_of(int fd) {
        if (static_cast<std::size_t>(fd) >= slots_.size()) slots_.resize(fd + 64);
        return slots_[fd];
    }

    io_uring_sqe* sqe() {
        io_uring_sqe* e = ::io_uring_get_sqe(&ring_);
        while (e == nullptr) {
            // Full: hand what is queued to the kernel and take the space.
            int r = ::io_uring_submit(&ring_);
            if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR)
                throw std::system_error(-r, std::generic_category(), "weft: io_uring_submit");
            e = ::io_uring_get_sqe(&ring_);
        }
        return e;
    }

    // Under the mutex.
    void arm(int fd, slot& s) {
        io_uring_sqe* e = sqe();
        if (s.events & readiness::edge) {
            ::io_uring_prep_poll_multishot(e, fd, to_poll(s.events));
        } else {
            ::io_uring_prep_poll_add(e, fd, to_poll(s.events));
        }
        ::io_uring_sqe_set_data64(e, key(fd, s.generation));
        s.armed = true;
    }

    void cancel(slot& s) {
        if (!s.armed) return;
        remove_request(key(static_cast<int>(&s - slots_.data()), s.generation));
        s.armed = false;
    }

    // Queues an IORING_OP_POLL_REMOVE of the poll `k`. Under the mutex.
    void remove_request(std::uint64_t k) {
        io_uring_sqe* e = sqe();
        ::io_uring_prep_poll_remove(e, k);
        ::io_uring_sqe_set_data64(e, k | removal);
        // Its own CQE only matters when it fails (see wait()).
        e->flags |= IOSQE_CQE_SKIP_SUCCESS;
    }

    // Queues an IORING_OP_ASYNC_CANCEL of the request `k`. Under the mutex.
    void cancel_request(std::uint64_t k) {
        io_uring_sqe* e = sqe();
        ::io_uring_prep_cancel64(e, k, 0);
        ::io_uring_sqe_set_data64(e, k | removal);
        e->flags |= IOSQE_CQE_SKIP_SUCCESS;  // its own CQE only says it failed
    }

    void complete(std::uint64_t user_data, int res, const char* data) noexcept {
        in_flight_.fetch_sub(1, std::memory_order_relaxed);
        registered_.fetch_sub(1, std::memory_order_relaxed);
        auto* t = reinterpret_cast<completion_target*>(user_data & ~completion);
        tsan_acquire_object(t);  // pairs with submit's release
        t->on_complete(t, res, data);
    }

    // Under the mutex: sets up the recv buffers on the first call (an
    // anonymous mapping for the buffer ring, which the kernel reads, and
    // the buffers themselves), and says whether recv requests can run.
    bool sockets_ready_locked() noexcept {
        int known = sockets_.load(std::memory_order_relaxed);
        if (known != 0) return known > 0;
        std::size_t ring_bytes = recv_buffers * sizeof(io_uring_buf);
        void* mem =
            ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
        if (mem == MAP_FAILED) {
            sockets_.store(-1, std::memory_order_relaxed);
            return false;
        }
        auto* br = static_cast<io_uring_buf_ring*>(mem);
        ::io_uring_buf_ring_init(br);
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uintptr_t>(br);
        reg.ring_entries = recv_buffers;
        reg.bgid = recv_group;
        // Linux 5.19; an older kernel says EINVAL and its streams keep
        // readiness and syscalls.
        if (::io_uring_register_buf_ring(&ring_, &reg, 0) < 0) {
            ::munmap(mem, ring_bytes);
            sockets_.store(-1, std::memory_order_relaxed);
            return false;
        }
        buf_ring_ = br;
        // Not zeroed: the kernel writes each buffer before it is read, and
        // its pages are faulted in as it does.
        buffers_ =
            std::make_unique_for_overwrite<char[]>(std::size_t{recv_buffers} * recv_buffer_size);
        for (unsigned i = 0; i < recv_buffers; ++i) {
            ::io_uring_buf_ring_add(br, buffer(static_cast<std::uint16_t>(i)), recv_buffer_size,
                                    static_cast<unsigned short>(i),
                                    ::io_uring_buf_ring_mask(recv_buffers), static_cast<int>(i));
        }
        // The kernel reads the tail with acquire: the buffers above are
        // visible to it before their count is.
        ::io_uring_buf_ring_advance(br, recv_buffers);
        sockets_.store(1, std::memory_order_relaxed);
        return true;
    }

    char* buffer(std::uint16_t id) const noexcept {
        return buffers_.get() + std::size_t{id} * recv_buffer_size;
    }

    // Under the mutex: the buffers of CQEs already dispatched, back to the
    // kernel.
    void give_back(const std::uint16_t* ids, unsigned n) noexcept {
        if (n == 0) return;
        int mask = ::io_uring_buf_ring_mask(recv_buffers);
        for (unsigned i = 0; i < n; ++i)
            ::io_uring_buf_ring_add(buf_ring_, buffer(ids[i]), recv_buffer_size, ids[i], mask,
                                    static_cast<int>(i));
        ::io_uring_buf_ring_advance(buf_ring_, static_cast<int>(n));
    }

    // finish() and the destructor: cancels the requests still in flight
    // (and the polls) and hears their CQEs (at most a few seconds: a read
    // of a FIFO with no writer may not stop; its target is then never
    // called).
    void finish_requests() noexcept {
        for (int rounds = 0; rounds < 50 && in_flight_.load(std::memory_order_relaxed) > 0;
             ++rounds) {
            // Every round: a completion heard in the last one may have
            // submitted another request (what is left of a short send).
            cancel_all();
            io_uring_cqe* cqe = nullptr;
            __kernel_timespec ts{0, 100'000'000};
            if (::io_uring_wait_cqe_timeout(&ring_, &cqe, &ts) < 0) continue;
            while (::io_uring_peek_cqe(&ring_, &cqe) == 0) {
                std::uint64_t ud = cqe->user_data;
                int res = cqe->res;
                std::uint32_t flags = cqe->flags;
                ::io_uring_cqe_seen(&ring_, cqe);
                if ((ud & completion) && !(ud & removal)) {
                    const char* data = nullptr;
                    std::uint16_t id = 0;
                    if (flags & IORING_CQE_F_BUFFER) {
                        id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
                        data = buffer(id);
                    }
                    complete(ud, res, data);
                    if (data != nullptr) {
                        std::lock_guard lock(mutex_);
                        give_back(&id, 1);
                    }
                }
            }
        }
    }

    // Asks the kernel to cancel every request in flight; their CQEs come.
    void cancel_all() noexcept {
        std::lock_guard lock(mutex_);
        try {
            io_uring_sqe* e = sqe();
            ::io_uring_prep_cancel64(e, 0, IORING_ASYNC_CANCEL_ANY);
            ::io_uring_sqe_set_data64(e, completion | removal);
            e->flags |= IOSQE_CQE_SKIP_SUCCESS;
            submit();
        } catch (...) {
            // No room in the ring: the requests run to their end instead.
        }
    }

    void rearm_level() {
        for (int fd : rearm_) {
            slot& s = slots_[fd];
            if (s.live && !s.armed) arm(fd, s);
        }
        rearm_.clear();
    }

    void submit() noexcept {
        if (::io_uring_sq_ready(&ring_) == 0) return;
        // Errors of the requests come back as CQEs; the call itself fails
        // only when the kernel is out of memory for them (-EAGAIN) or the CQ
        // is overflowing (-EBUSY): they stay queued for the next turn.
        ::io_uring_submit(&ring_);
    }

    void drop(int fd, bool even_if_unknown) noexcept {
        std::lock_guard lock(mutex_);
        bool known = fd >= 0 && static_cast<std::size_t>(fd) < slots_.size() && slots_[fd].live;
        if (known) {
            slot& s = slots_[fd];
            try {
                cancel(s);
            } catch (...) {
                // Only io_uring_submit's failure to make room; the stale
                // CQEs are still dropped by generation.
            }
            s.live = false;
            s.target = nullptr;
            submit();
        }
        if (known || even_if_unknown) registered_.fetch_sub(1, std::memory_order_relaxed);
    }

    io_uring ring_{};
    std::mutex mutex_;                  // the SQ, slots_, rearm_ and retry_
    std::vector<slot> slots_;           // by fd
    std::vector<int> rearm_;            // fds whose poll ended, to arm on the next turn
    std::vector<std::uint64_t> retry_;  // removals the kernel answered -EALREADY
    std::atomic<int> in_flight_{0};     // file requests submitted, not yet completed
    // Whether recv requests can run: 0 not known yet, 1 yes, -1 no. Set
    // under mutex_; relaxed reads outside it only skip taking the mutex.
    std::atomic<int> sockets_{0};
    io_uring_buf_ring* buf_ring_ = nullptr;  // the recv buffers' ring (mutex_)
    std::unique_ptr<char[]> buffers_;
    bool waiting_ = false;  // under mutex_: a thread is in wait(), past its submit
};

}  // namespace

std::unique_ptr<poller> make_uring_poller() {
    return std::make_unique<uring_poller>();
}

// The kernel interface the backend needs: a ring (io_uring_setup is what
// seccomp, kernel.io_uring_disabled and old kernels refuse), waits with a
// timeout and no SQE (IORING_FEAT_EXT_ARG, 5.11), no CQE lost to an
// overflow (NODROP), and removals without a CQE (CQE_SKIP, 5.17, which
// implies multishot polls, 5.13).
io_uring_support probe_uring() {
    io_uring ring{};
    io_uring_params params{};
    int r = ::io_uring_queue_init_params(4, &ring, &params);
    if (r < 0) {
        std::string why = std::string("io_uring_setup failed: ") + std::strerror(-r);
        if (r == -EPERM) why += " (a seccomp filter, or the sysctl kernel.io_uring_disabled)";
        if (r == -ENOSYS) why += " (the kernel has no io_uring)";
        return {false, why};
    }
    ::io_uring_queue_exit(&ring);
    const unsigned needed = IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP | IORING_FEAT_CQE_SKIP;
    if ((params.features & needed) != needed)
        return {false, "the kernel's io_uring lacks what weft needs (Linux 5.17 or later)"};
    return {true, "the kernel's io_uring works"};
}

}  // namespace weft::detail
