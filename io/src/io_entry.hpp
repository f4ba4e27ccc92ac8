// The readiness state of one open file descriptor (Go's pollDesc, Tokio's
// ScheduledIo): which poller it is registered with, a sequence number per
// direction that counts readiness edges, the tasks waiting for the next edge,
// and a count of operations in flight that keeps the fd number from being
// reused under them.
//
// The protocol (every I/O operation in weft::io follows it):
//
//   1. begin_op(gen): take an operation reference; fails once the fd is
//      closing. While any reference is held the fd stays open, so a syscall
//      never reaches a recycled fd number (Go's fdMutex).
//   2. s0 = seq(dir), then the syscall.
//   3. On EAGAIN: ensure_registered() (lazily, with the poller of the loop
//      this thread drives: edge-triggered, both directions), end_op(), then
//      co_await io_wait(handle, dir, s0). The wait returns at once if an
//      edge arrived after s0 was read (the data may be there now), else
//      suspends until the next one. Then go to 1.
//
// Registration is lazy so that in Go mode a connection is polled by the
// worker that first waits on it (the one running its handler) rather than by
// the worker that accepted it; wake-ups then land on that worker's runnext
// slot and the connection's task tends to stay there.
//
// Lifetime. An epoll event carries a raw pointer to its entry, and the worker
// that owns the poller may be dispatching an event for an fd that another
// worker has just closed. So entries are type-stable, like Go's pollDesc
// cache: they come from a pool and are recycled, never freed. A stale event
// on a recycled entry only bumps a sequence number, which is a spurious
// wake-up at worst (waiters always retry the syscall). Every holder keeps the
// generation it opened the entry in (io_handle), and an operation with a
// stale generation fails with closed_error.
//
// Locking. `lock_` (a spinlock: the critical sections are a few pointer
// moves) guards the waiter lists and orders waiters against closing. A
// task's cancel hook takes it while holding the task's hook lock; nothing
// here takes a hook lock while holding `lock_`, so the order is fixed.
#pragma once

#include <atomic>
#include <cstdint>

#include <weft/detail/poller.hpp>
#include <weft/io/detail/io_handle.hpp>

namespace weft::detail {

enum class io_dir : std::uint8_t { read = 0, write = 1 };

// A waiting party in an entry's list. `result` is written under the entry's
// lock by whoever unlinks the waiter (an event, a close, a cancel), and read
// by the waiter once it runs again.
struct io_waiter {
    enum result_t : std::uint8_t { pending, ready, closed, cancelled };

    io_waiter* prev = nullptr;
    io_waiter* next = nullptr;
    // Called outside the lock, once, after the waiter was unlinked with
    // result ready or closed. It must not touch the entry.
    void (*fire)(io_waiter*) noexcept = nullptr;
    io_dir dir = io_dir::read;
    bool linked = false;
    result_t result = pending;
};

class io_entry final : public poll_target {
public:
    // An entry for `fd` (which it now owns: it is closed with the entry).
    // With fd -1 an entry that no poller watches: its edges come from
    // notify() alone (the in-memory transport's readiness).
    static io_handle open(int fd);

    int fd() const noexcept { return fd_; }

    // ---- operations (step 1 of the protocol)
    bool begin_op(std::uint32_t gen) noexcept {
        std::uint64_t s = state_.load(std::memory_order_relaxed);
        for (;;) {
            if ((s >> gen_shift) != gen || (s & closing_bit)) return false;
            // acquire: pairs with the release of open(), so the fd we read
            // afterwards is this generation's.
            if (state_.compare_exchange_weak(s, s + ref_one, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
                return true;
            }
        }
    }
    void end_op() noexcept {
        // acq_rel: the last reference out of a closing entry finalizes it and
        // must see every use of the fd before it closes it.
        std::uint64_t old = state_.fetch_sub(ref_one, std::memory_order_acq_rel);
        if ((old & closing_bit) && refs_of(old) == 1) finalize();
    }
    // Whether `gen` is still open (not closing).
    bool is_open(std::uint32_t gen) const noexcept {
        std::uint64_t s = state_.load(std::memory_order_acquire);
        return (s >> gen_shift) == gen && !(s & closing_bit);
    }

    // The readiness edges seen so far in `d` (step 2). acquire: pairs with
    // the release increment in on_events.
    std::uint64_t seq(io_dir d) const noexcept {
        return seq_[static_cast<int>(d)].load(std::memory_order_acquire);
    }

    // A receive that returned less than it asked for, after seeing edge
    // count `seq`, emptied a stream's buffer: until the next edge another
    // receive would only say EAGAIN. Epoll reports every arrival of data
    // with a new edge, so the next read may skip that syscall and wait
    // (Tokio clears its readiness on a short read for the same reason).
    // Only for byte streams: a short datagram says nothing about the next.
    // A hang-up (the peer's end of stream, an error) may have come with the
    // data, edge and all, and is still to be read after it: once one was
    // seen the hint is off for good (Tokio never clears READ_CLOSED).
    void note_drained(io_dir d, std::uint64_t seq) noexcept {
        // Relaxed: a hint for the next operation of the same reader.
        drained_[static_cast<int>(d)].store(seq + 1, std::memory_order_relaxed);
    }
    bool known_drained(io_dir d, std::uint64_t seq) const noexcept {
        // acquire: pairs with dispatch's release store of hung_up_, made
        // before the edge count `seq` was bumped.
        return drained_[static_cast<int>(d)].load(std::memory_order_relaxed) == seq + 1 &&
               !hung_up_.load(std::memory_order_acquire);
    }

    // A readiness edge in `d` that did not come from the poller: wakes the
    // waiters of `d` (they retry their syscall and look at whatever state
    // the caller changed first). A stale entry takes it as a spurious wake.
    void notify(io_dir d) noexcept { wake_all(d, io_waiter::ready); }

    // Registers the fd with the poller of the loop this thread drives, once.
    // Call with an operation reference held. Throws std::system_error (e.g.
    // EPERM for a regular file, which epoll cannot watch).
    void ensure_registered();

    // Closes generation `gen`: wakes every waiter with result `closed`, and
    // once no operation is in flight deregisters and closes the fd and
    // recycles the entry. False if `gen` was already closed.
    bool close(std::uint32_t gen) noexcept;
    // As close, but hands the fd to the caller instead of closing it (after
    // deregistering it). -1 if `gen` was already closed or an operation is
    // in flight.
    int detach(std::uint32_t gen) noexcept;

    // ---- waiting (the locked part of io_wait)
    void lock() noexcept {
        // acquire: pairs with unlock's release.
        while (lock_.exchange(true, std::memory_order_acquire)) {
            while (lock_.load(std::memory_order_relaxed))
                __builtin_ia32_pause();
        }
    }
    void unlock() noexcept { lock_.store(false, std::memory_order_release); }
    // Under the lock.
    bool closed_for(std::uint32_t gen) const noexcept {
        std::uint64_t s = state_.load(std::memory_order_relaxed);
        return (s >> gen_shift) != gen || (s & closing_bit);
    }
    void link(io_waiter* w) noexcept;    // under the lock
    void unlink(io_waiter* w) noexcept;  // under the lock; w must be linked

private:
    io_entry() noexcept;
    static void dispatch(poll_target* self, std::uint32_t events) noexcept;
    // Wakes every waiter of `d` with result `r` (takes the lock per waiter).
    void wake_all(io_dir d, io_waiter::result_t r) noexcept;
    void finalize() noexcept;
    static void retire(io_entry* e) noexcept;

    static constexpr std::uint64_t closing_bit = 1;
    static constexpr std::uint64_t ref_one = 2;
    static constexpr int gen_shift = 32;
    static std::uint64_t refs_of(std::uint64_t s) noexcept { return (s & 0xffff'ffffull) >> 1; }

    friend struct io_entry_pool;

    // generation (32 bits) | operation references (31 bits) | closing (1 bit)
    std::atomic<std::uint64_t> state_{0};
    std::atomic<std::uint64_t> seq_[2] = {0, 0};
    std::atomic<std::uint64_t> drained_[2] = {0, 0};  // see note_drained
    std::atomic<bool> hung_up_{false};                // peer_closed/hangup/error seen
    std::atomic<bool> lock_{false};
    // 0: not registered; 1: a thread is registering; 2: registered.
    std::atomic<int> reg_{0};
    std::atomic<poller*> poller_{nullptr};
    int fd_ = -1;
    io_waiter* head_[2] = {nullptr, nullptr};
    io_waiter* tail_[2] = {nullptr, nullptr};
    io_entry* free_next_ = nullptr;  // the pool's free list
};

}  // namespace weft::detail
