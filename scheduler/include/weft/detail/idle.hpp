// Which workers of a Go-mode runtime are searching for work and which are
// parked, and the protocol that keeps a wake-up from ever being lost (Go's
// "spinning M" rules in proc.go, in the shape of Tokio's idle.rs).
//
// The rules, in prose:
//
//  1. A worker that runs out of work first *searches* (steals) before it
//     parks. At most half the workers search at once (`try_start_searching`);
//     more would only fight over the same victims.
//  2. Whoever makes work available (a spawn or wake on a busy worker, an
//     injection from outside) calls `worker_to_notify`. It wakes a parked
//     worker only if nobody is searching and somebody is parked: a searcher
//     will find the work anyway. The check is one atomic load, so busy
//     workers pay almost nothing to keep the others informed.
//  3. A notified worker comes back as a searcher (the notifier counted it so,
//     which stops further notifications until it finds work or parks).
//  4. A searcher that finds work stops searching; if it was the *last*
//     searcher (`stop_searching` returns that fact) and more work is in
//     sight (a queue not empty, `notify_if_work_pending`), it notifies one
//     more worker. Work that appears later notifies by rule 2; so a lone
//     submission from outside wakes one worker, not two.
//  5. The last searcher to park must look at every queue once more after it
//     has announced itself parked (`park` returns that fact). Together with
//     rule 2 this closes the race: a producer publishes its work, then reads
//     the counts; the parker updates the counts, then reads the queues. Both
//     sides are seq_cst, so at least one of them sees the other.
//
// The counts live in one atomic word; the list of parked workers is behind a
// mutex, which is only taken when a worker parks or is woken: never on the
// path of a busy worker.
//
// `Sync` supplies the atomic and the mutex (sync.hpp); the model checker
// plays these rules against producers and parking workers
// (tests/model/test_idle.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include <weft/detail/sync.hpp>

namespace weft::detail {

template <class Sync>
class basic_idle {
public:
    explicit basic_idle(unsigned workers) : workers_(workers), state_(pack(0, workers)) {
        sleepers_.reserve(workers);
    }

    // Rule 2. Returns the worker to wake (already counted as searching and
    // unparked), or -1.
    int worker_to_notify() {
        if (!should_notify()) return -1;
        std::lock_guard lock(mutex_);
        if (!should_notify() || sleepers_.empty()) return -1;
        // seq_cst: part of the handshake of rule 5.
        state_.fetch_add(pack(1, 1), std::memory_order_seq_cst);
        unsigned w = sleepers_.back();
        sleepers_.pop_back();
        return static_cast<int>(w);
    }

    // Rule 1.
    bool try_start_searching() {
        std::uint32_t s = state_.load(std::memory_order_seq_cst);
        if (2 * searching(s) >= workers_) return false;
        state_.fetch_add(pack(1, 0), std::memory_order_seq_cst);
        return true;
    }

    // Rule 4: true if the caller was the last searcher.
    bool stop_searching() {
        std::uint32_t prev = state_.fetch_sub(pack(1, 0), std::memory_order_seq_cst);
        return searching(prev) == 1;
    }

    // Rule 5: records `w` as parked; true if it was the last searcher, and
    // so must look at every queue once more.
    bool park(unsigned w, bool was_searching) {
        std::lock_guard lock(mutex_);
        std::uint32_t dec = pack(was_searching ? 1 : 0, 1);
        // seq_cst: the parker's half of the handshake of rule 5.
        std::uint32_t prev = state_.fetch_sub(dec, std::memory_order_seq_cst);
        sleepers_.push_back(w);
        return was_searching && searching(prev) == 1;
    }

    // A parked worker woke up. If it is still listed it was not notified (a
    // timer or I/O woke it): take it off the list and count it unparked, not
    // searching. Returns whether it was notified (and so is a searcher now).
    bool unpark(unsigned w) {
        std::lock_guard lock(mutex_);
        for (auto it = sleepers_.begin(); it != sleepers_.end(); ++it) {
            if (*it == w) {
                sleepers_.erase(it);
                state_.fetch_add(pack(0, 1), std::memory_order_seq_cst);
                return false;
            }
        }
        return true;
    }

    // Whether `w` is on the parked list (it was not notified yet).
    bool is_parked(unsigned w) {
        std::lock_guard lock(mutex_);
        for (unsigned s : sleepers_)
            if (s == w) return true;
        return false;
    }

    unsigned searching_now() const { return searching(state_.load(std::memory_order_relaxed)); }
    unsigned unparked_now() const { return unparked(state_.load(std::memory_order_relaxed)); }

private:
    // Low 16 bits: searching workers; high 16 bits: unparked workers.
    static constexpr std::uint32_t pack(std::uint32_t searching_n, std::uint32_t unparked_n) {
        return searching_n | (unparked_n << 16);
    }
    static unsigned searching(std::uint32_t s) { return s & 0xffff; }
    static unsigned unparked(std::uint32_t s) { return s >> 16; }
    bool should_notify() const {
        // seq_cst: the producer's half of the handshake of rule 5.
        std::uint32_t s = state_.load(std::memory_order_seq_cst);
        return searching(s) == 0 && unparked(s) < workers_;
    }

    const unsigned workers_;
    typename Sync::template atomic<std::uint32_t> state_;
    typename Sync::mutex mutex_;
    std::vector<unsigned> sleepers_;
};

using idle = basic_idle<std_sync>;

}  // namespace weft::detail
