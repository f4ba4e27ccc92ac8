// io_entry: the readiness state of an fd, its pool, and the epoll callback.
#include "io_entry.hpp"

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <unistd.h>

#include <weft/event_loop.hpp>

#include "ring_op.hpp"

namespace weft::detail {

// Entries are recycled, never freed (see io_entry.hpp: events in flight may
// still point at one). They are carved from chunks that stay reachable from
// `pool`, which is deliberately never destroyed: a socket closed during
// static destruction still finds it, and leak checkers see the chunks as
// reachable.
struct io_entry_pool {
    static constexpr std::size_t chunk = 64;
    std::mutex mutex;
    io_entry* free = nullptr;
    std::vector<io_entry*> chunks;

    io_entry* take() {
        std::lock_guard lock(mutex);
        if (free == nullptr) {
            auto* block = static_cast<io_entry*>(::operator new(chunk * sizeof(io_entry)));
            chunks.push_back(block);
            for (std::size_t i = 0; i < chunk; ++i) {
                auto* e = new (block + i) io_entry();
                e->free_next_ = free;
                free = e;
            }
        }
        io_entry* e = free;
        free = e->free_next_;
        e->free_next_ = nullptr;
        return e;
    }
    void give(io_entry* e) {
        std::lock_guard lock(mutex);
        e->free_next_ = free;
        free = e;
    }
};

namespace {
io_entry_pool& pool() {
    static io_entry_pool* p = new io_entry_pool;  // never destroyed, on purpose
    return *p;
}
}  // namespace

io_entry::io_entry() noexcept {
    on_events = &io_entry::dispatch;
}

io_handle io_entry::open(int fd) {
    io_entry* e = pool().take();
    e->fd_ = fd;
    // The generation was set when the entry was retired (or is 0 when new);
    // release: a thread that acquires an op reference sees fd_.
    std::uint64_t s = e->state_.load(std::memory_order_relaxed);
    e->state_.store(s & ~std::uint64_t{0xffff'ffff}, std::memory_order_release);
    return io_handle{e, static_cast<std::uint32_t>(s >> gen_shift)};
}

void io_entry::ensure_registered() {
    // acquire: pairs with the release below; a registered entry's poller is set.
    if (reg_.load(std::memory_order_acquire) == 2) return;
    int expected = 0;
    // Another thread registering right now is as good as done: epoll reports
    // an fd's current readiness when it is added, so no edge is lost.
    if (!reg_.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
    event_loop* loop = event_loop::current();
    if (loop == nullptr) {
        reg_.store(0, std::memory_order_relaxed);
        throw std::logic_error("weft::io: waiting for I/O outside an event loop's thread");
    }
    poller& p = loop->poller();
    try {
        p.add(fd_,
              readiness::readable | readiness::writable | readiness::peer_closed | readiness::edge,
              this);
    } catch (...) {
        reg_.store(0, std::memory_order_relaxed);
        throw;
    }
    poller_.store(&p, std::memory_order_relaxed);
    reg_.store(2, std::memory_order_release);
}

void io_entry::link(io_waiter* w) noexcept {
    int d = static_cast<int>(w->dir);
    w->next = nullptr;
    w->prev = tail_[d];
    if (tail_[d] != nullptr) {
        tail_[d]->next = w;
    } else {
        head_[d] = w;
    }
    tail_[d] = w;
    w->linked = true;
}

void io_entry::unlink(io_waiter* w) noexcept {
    int d = static_cast<int>(w->dir);
    if (w->prev != nullptr) {
        w->prev->next = w->next;
    } else {
        head_[d] = w->next;
    }
    if (w->next != nullptr) {
        w->next->prev = w->prev;
    } else {
        tail_[d] = w->prev;
    }
    w->prev = w->next = nullptr;
    w->linked = false;
}

void io_entry::wake_all(io_dir d, io_waiter::result_t r) noexcept {
    int i = static_cast<int>(d);
    lock();
    if (r == io_waiter::ready) {
        // release: pairs with seq()'s acquire. Under the lock, so that a
        // waiter comparing its snapshot under the lock either sees the new
        // value or is in the list we take below.
        seq_[i].fetch_add(1, std::memory_order_release);
    }
    io_waiter* taken = nullptr;
    while (io_waiter* w = head_[i]) {
        unlink(w);
        w->result = r;
        w->next = taken;
        taken = w;
    }
    unlock();
    while (taken != nullptr) {
        io_waiter* next = taken->next;  // read first: fire may end the waiter's life
        taken->fire(taken);
        taken = next;
    }
}

void io_entry::dispatch(poll_target* self, std::uint32_t events) noexcept {
    auto* e = static_cast<io_entry*>(self);
    using namespace readiness;
    if (events & (peer_closed | hangup | error)) e->hung_up_.store(true, std::memory_order_release);
    // A hang-up or an error wakes both sides: the next syscall reports it.
    if (events & (readable | peer_closed | hangup | error))
        e->wake_all(io_dir::read, io_waiter::ready);
    if (events & (writable | hangup | error)) e->wake_all(io_dir::write, io_waiter::ready);
}

bool io_entry::close(std::uint32_t gen) noexcept {
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
        if ((s >> gen_shift) != gen || (s & closing_bit)) return false;
        // acq_rel: with no reference left we finalize at once and must see
        // the last user's writes; others see `closing` through begin_op.
        if (state_.compare_exchange_weak(s, s | closing_bit, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
            break;
        }
    }
    wake_all(io_dir::read, io_waiter::closed);
    wake_all(io_dir::write, io_waiter::closed);
    if (refs_of(s) == 0) finalize();
    return true;
}

int io_entry::detach(std::uint32_t gen) noexcept {
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
        if ((s >> gen_shift) != gen || (s & closing_bit) || refs_of(s) != 0) return -1;
        if (state_.compare_exchange_weak(s, s | closing_bit, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
            break;
        }
    }
    wake_all(io_dir::read, io_waiter::closed);
    wake_all(io_dir::write, io_waiter::closed);
    int fd = fd_;
    if (reg_.load(std::memory_order_acquire) == 2)
        poller_.load(std::memory_order_relaxed)->remove(fd);
    retire(this);
    return fd;
}

namespace {

// A close as a request in the ring of the loop this thread drives (with the
// loop's next wait, not a close(2) of its own). The fd number stays taken
// until the kernel has closed it, so it cannot be reused meanwhile.
void close_fd(int fd) noexcept {
    io_request r;
    r.op = io_request::kind::close;
    r.fd = fd;
    if (!submit_detached(r)) ::close(fd);
}

}  // namespace

void io_entry::finalize() noexcept {
    // No reference is left and none can be taken: this thread alone owns
    // the fd. Deregister explicitly rather than rely on close(): a child
    // between fork and exec may hold a copy that would keep it registered.
    if (reg_.load(std::memory_order_acquire) == 2)
        poller_.load(std::memory_order_relaxed)->remove(fd_);
    if (fd_ >= 0) close_fd(fd_);  // -1: an entry with no fd (memory_transport)
    retire(this);
}

void io_entry::retire(io_entry* e) noexcept {
    e->lock();
    e->fd_ = -1;
    e->drained_[0].store(0, std::memory_order_relaxed);
    e->drained_[1].store(0, std::memory_order_relaxed);
    e->hung_up_.store(false, std::memory_order_relaxed);
    e->reg_.store(0, std::memory_order_relaxed);
    e->poller_.store(nullptr, std::memory_order_relaxed);
    e->unlock();
    // The next generation, no references, open. release: pairs with the
    // acquire of open() on the thread that takes the entry next (through
    // the pool's mutex as well).
    std::uint64_t s = e->state_.load(std::memory_order_relaxed);
    e->state_.store(((s >> gen_shift) + 1) << gen_shift, std::memory_order_release);
    pool().give(e);
}

}  // namespace weft::detail
