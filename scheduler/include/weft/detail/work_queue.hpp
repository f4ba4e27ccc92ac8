// A worker's local run queue in Go mode: a bounded Chase-Lev deque. One
// owner pushes and pops at the bottom (newest first, so fork-join code runs
// depth-first and keeps few tasks alive); thieves take from the top (the
// oldest items, the biggest pieces of work), half of the queue at a time.
//
// Why not Go's or Tokio's FIFO queue: popping the oldest first makes a task
// tree run breadth-first, and the number of pending tasks explodes (fib(25)
// overflowed a 256-slot FIFO queue hundreds of times). Fairness is kept by
// the worker instead (go_worker.cpp, next_local): every 61 ticks the global
// queue and the worker's FIFO go before this deque, and the runnext slot
// gives way to the deque after 3 turns in a row.
//
// Only thieves (and the owner's overflow) move `top`, and only upwards: the
// algorithm's correctness rests on that. (Letting the owner also push at the
// top, to queue work behind everything else, breaks it: a thief stalled with
// an old value of `top` can then win its CAS after top went down and up
// again, and take an item the owner already popped. The stress test caught
// exactly that. Work that must wait its turn goes to the worker's FIFO.)
//
// Indices are 64-bit and never wrap in practice; slot i lives at i % Capacity.
// `top` (next to steal) is moved only by CAS; `bottom` (next free) only by the
// owner. Invariant: top <= bottom + 1 transiently, bottom - top <= Capacity.
//
// The algorithm is Chase and Lev's, with the C11 memory orders of Lê, Pop,
// Cohen and Zappa Nardelli (PPoPP 2013). Orders, with what each pairs with:
//   - push: the slot is stored (relaxed), then a release fence, then
//     bottom.store(relaxed); the fence pairs with a thief's
//     bottom.load(acquire) of that store or any later one by the owner,
//     which makes the item visible;
//   - pop: bottom is decremented, then a seq_cst fence, then top is read; a
//     thief reads top, then a seq_cst fence, then bottom. The two fences
//     ensure that when both go for the last item, at least one of them sees
//     the other; the tie is broken by a seq_cst CAS on top;
//   - steal: top.load(acquire) pairs with the release of other thieves' CAS;
//     the CAS on top claims the item (seq_cst, for the tie above).
// A steal takes one item per CAS; a thief repeats it for half the queue.
// Taking a range with one CAS would race with the owner popping its way down
// into that range.
//
// `Sync` supplies the atomics and the fence (sync.hpp): the standard ones,
// or the model checker's, which explores this code's interleavings with a
// capacity of 4, an owner and two thieves (tests/model/test_work_queue.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <weft/detail/config.hpp>
#include <weft/detail/sync.hpp>

namespace weft::detail {

template <std::uint32_t Capacity, class Sync = std_sync>
class work_queue {
    static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0, "power of two");
    static constexpr std::int64_t mask = Capacity - 1;
    template <class T>
    using atomic = typename Sync::template atomic<T>;

public:
    using item = std::uintptr_t;  // 0 is "no item"
    static constexpr std::uint32_t capacity = Capacity;

    work_queue() {
        for (auto& s : slots_)
            s.store(0, std::memory_order_relaxed);
    }
    work_queue(const work_queue&) = delete;
    work_queue& operator=(const work_queue&) = delete;

    class owner_handle;
    class stealer_handle;

    // The two sides of the algorithm as two types (Tokio's Local and Steal):
    // the owner's handle pushes and pops at the bottom; a stealer's only
    // takes from the top, and can name the queue it steals into only by
    // that queue's owner handle. Code that holds a stealer cannot call the
    // owner's pop, which would break the algorithm without a word. Who may
    // take the owner's handle is the holder's rule to check (the worker
    // asserts that the calling thread drives its loop).
    owner_handle owner() noexcept { return owner_handle(*this); }
    stealer_handle stealer() noexcept { return stealer_handle(*this); }

    // Items in the queue (exact for the owner, a snapshot for others).
    std::uint32_t size() const noexcept {
        std::int64_t b = bottom_.load(std::memory_order_acquire);
        std::int64_t t = top_.load(std::memory_order_acquire);
        return b > t ? static_cast<std::uint32_t>(b - t) : 0;
    }
    bool empty() const noexcept { return size() == 0; }

    // Where the owner's next push goes. Only the owner moves it (pushes and
    // pops): an observer that sees it change knows the owner is running
    // queue operations (the monitor: a step spawning tasks is not blocked).
    // relaxed: nothing is read on the strength of it.
    std::int64_t owner_position() const noexcept { return bottom_.load(std::memory_order_relaxed); }

    class owner_handle {
    public:
        bool try_push(item v) noexcept { return q_->try_push(v); }
        item pop() noexcept { return q_->pop(); }
        // The item `depth` places below the newest (0: the newest), or 0 if
        // the queue looks shorter: a hint, which a thief may make stale at
        // once, so compare it, never follow it.
        item peek(std::uint32_t depth) const noexcept { return q_->peek(depth); }
        template <class Sink>
        bool take_half_for_overflow(Sink&& sink) noexcept {
            return q_->take_half_for_overflow(static_cast<Sink&&>(sink));
        }
        std::uint32_t size() const noexcept { return q_->size(); }
        bool empty() const noexcept { return q_->empty(); }

    private:
        friend class work_queue;
        friend class stealer_handle;
        explicit owner_handle(work_queue& q) noexcept : q_(&q) {}
        work_queue* q_;
    };

    class stealer_handle {
    public:
        item steal_into(owner_handle dst, std::uint32_t& stolen) noexcept {
            return q_->steal_into(*dst.q_, stolen);
        }
        std::uint32_t size() const noexcept { return q_->size(); }
        bool empty() const noexcept { return q_->empty(); }

    private:
        friend class work_queue;
        explicit stealer_handle(work_queue& q) noexcept : q_(&q) {}
        work_queue* q_;
    };

private:
    // ---- owner side

    // Pushes `v` at the bottom if there is room; else returns false and the
    // caller overflows half of the queue to the global queue.
    bool try_push(item v) noexcept {
        std::int64_t b = bottom_.load(std::memory_order_relaxed);  // only we write it
        // acquire: pairs with a thief's CAS, so that the slot we are about to
        // reuse has been read by that thief.
        std::int64_t t = top_.load(std::memory_order_acquire);
        if (b - t >= static_cast<std::int64_t>(Capacity)) return false;
        slots_[b & mask].store(v, std::memory_order_relaxed);
        // release fence, then a relaxed store (not a release store): pairs
        // with a thief's bottom.load(acquire) that reads this store or any
        // later store of bottom by the owner (pop's are relaxed). A release
        // store would publish the slot only to a thief reading this very
        // value: since C++20 a release sequence does not go on through the
        // owner's later plain stores, so a thief reading pop's lowered bottom
        // could see a wrapped slot as it was (the model checker found an item
        // taken twice that way; docs/model_checking.md). The store is a
        // release as well: ThreadSanitizer does not model fences, and sees
        // the common case (a thief reading this value) through it. Same code
        // on x86-64 either way.
        Sync::fence(std::memory_order_release);
        bottom_.store(b + 1, std::memory_order_release);
        return true;
    }

    // Pops the newest item, or returns 0 if empty.
    item pop() noexcept {
        std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
        bottom_.store(b, std::memory_order_relaxed);
        Sync::fence(std::memory_order_seq_cst);  // pairs with steal()'s fence
        std::int64_t t = top_.load(std::memory_order_relaxed);
        if (t > b) {  // empty
            bottom_.store(b + 1, std::memory_order_relaxed);
            return 0;
        }
        item v = slots_[b & mask].load(std::memory_order_relaxed);
        if (t == b) {
            // The last item: a thief may be taking it too. The CAS decides.
            if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                              std::memory_order_relaxed)) {
                v = 0;
            }
            bottom_.store(b + 1, std::memory_order_relaxed);
        }
        return v;
    }

    item peek(std::uint32_t depth) const noexcept {
        // relaxed: only this thread writes bottom_ and the slots; top_ only
        // bounds the look, and a stale bound costs a wrong hint, no more.
        std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1 - depth;
        if (b < top_.load(std::memory_order_relaxed)) return 0;
        return slots_[b & mask].load(std::memory_order_relaxed);
    }

    // When try_push failed: takes the older half out (calling `sink(item)`
    // for each, oldest first) so that the owner can push again. Returns
    // false if thieves raced us (then simply retry try_push).
    template <class Sink>
    bool take_half_for_overflow(Sink&& sink) noexcept {
        std::int64_t b = bottom_.load(std::memory_order_relaxed);
        std::int64_t t = top_.load(std::memory_order_acquire);
        std::int64_t n = (b - t) / 2;
        if (n <= 0) return false;
        // Far from the bottom, so no pop of ours can meet this range; the CAS
        // only has to beat thieves, which take single items from `t`.
        if (!top_.compare_exchange_strong(t, t + n, std::memory_order_seq_cst,
                                          std::memory_order_relaxed)) {
            return false;
        }
        for (std::int64_t i = 0; i < n; ++i)
            sink(slots_[(t + i) & mask].load(std::memory_order_relaxed));
        return true;
    }

    // ---- thief side

    // Moves about half of this queue's items into `dst` (whose owner is the
    // caller), oldest first, and returns the oldest to run at once; 0 if
    // nothing was stolen. `stolen` receives how many were taken in all.
    item steal_into(work_queue& dst, std::uint32_t& stolen) noexcept {
        stolen = 0;
        std::uint32_t want = (size() + 1) / 2;
        std::uint32_t room = Capacity - dst.size();
        if (want > room) want = room;
        item first = 0;
        while (stolen < want) {
            item v;
            result r = steal_one(v);
            if (r == result::empty) break;
            if (r == result::lost_race) {
                if (first == 0) continue;  // keep trying for the first item
                break;                     // got something; do not fight
            }
            if (first == 0) {
                first = v;
            } else {
                dst.try_push(v);  // room was checked above and only we push to dst
            }
            ++stolen;
        }
        return first;
    }

    enum class result { ok, empty, lost_race };

    result steal_one(item& out) noexcept {
        // acquire: pairs with other thieves' (and the owner's) CAS on top.
        std::int64_t t = top_.load(std::memory_order_acquire);
        Sync::fence(std::memory_order_seq_cst);  // pairs with pop()'s fence
        // acquire: pairs with push()'s release fence, making the item visible.
        std::int64_t b = bottom_.load(std::memory_order_acquire);
        if (t >= b) return result::empty;
        item v = slots_[t & mask].load(std::memory_order_relaxed);
        if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                          std::memory_order_relaxed)) {
            return result::lost_race;
        }
        out = v;
        return result::ok;
    }

    alignas(cache_line) atomic<std::int64_t> top_{0};
    alignas(cache_line) atomic<std::int64_t> bottom_{0};
    alignas(cache_line) atomic<item> slots_[Capacity];
};

}  // namespace weft::detail
