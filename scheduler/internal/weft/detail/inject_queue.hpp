// The queue that work from other threads enters by: a Go-mode runtime's
// global queue (submissions from outside, overflow from full local queues)
// and a single-thread loop's remote queue (call_soon_threadsafe, spawns from
// a runtime handle). Go's sched.runq and Tokio's inject queue take the same
// shape: a lock around a list, since every user moves items in batches or
// rarely, and an atomic count so that looking at an empty queue, the common
// case, takes no lock.
//
// Unlike a lock-free queue that keeps every block it ever allocated, this one
// gives memory back as it drains: a queue that once held a million tasks
// (a burst of spawns overflowing the local queues) keeps one spare segment,
// 4 KiB, once empty (issue: memory is never given back).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace weft::detail {

class inject_queue {
public:
    inject_queue() = default;
    inject_queue(const inject_queue&) = delete;
    inject_queue& operator=(const inject_queue&) = delete;
    ~inject_queue();

    void push(std::uintptr_t item);
    void push_batch(const std::uintptr_t* items, std::size_t n);
    // Takes up to `max` items, oldest first; returns how many.
    std::size_t pop_batch(std::uintptr_t* out, std::size_t max) noexcept;

    // A hint without the lock: exact when no other thread pushes or pops.
    // To rely on it against a concurrent push, both sides put a seq_cst
    // fence between their store and their look at the other side (see
    // runtime_core::inject and idle.hpp, rule 5).
    std::size_t size_approx() const noexcept { return size_.load(std::memory_order_relaxed); }
    bool empty_approx() const noexcept { return size_approx() == 0; }

    // Segments allocated now, the spare included (for the tests).
    std::size_t segments() const;

    // 510 items and the header make a 4 KiB segment.
    static constexpr std::size_t segment_capacity = 510;

private:
    struct segment {
        segment* next = nullptr;
        std::uint32_t head = 0;  // next to pop
        std::uint32_t tail = 0;  // next free slot
        std::uintptr_t items[segment_capacity];
    };
    segment* new_segment();
    void retire(segment* s) noexcept;

    mutable std::mutex mutex_;
    segment* head_ = nullptr;   // popped from
    segment* tail_ = nullptr;   // pushed to
    segment* spare_ = nullptr;  // one emptied segment kept for the next push
    std::size_t segments_ = 0;
    // Written under the lock, read without it (size_approx).
    std::atomic<std::size_t> size_{0};
};

}  // namespace weft::detail
