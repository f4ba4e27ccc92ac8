// The timers of one event loop: a 4-ary min-heap ordered by deadline, then by
// insertion order, so timers with equal deadlines fire first-in first-out.
// Cancelled timers stay in the heap until they reach the top or until they are
// the majority, when the heap is rebuilt without them (asyncio does the same).
#pragma once

#include <cstdint>
#include <vector>

#include <weft/detail/callback.hpp>

namespace weft::detail {

class timer_heap {
public:
    struct entry {
        std::int64_t when;  // loop clock, ns
        std::uint64_t seq;  // insertion order among equal deadlines
        callback_base* cb;  // holds one reference
    };

    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }
    const entry& top() const noexcept { return heap_.front(); }

    void push(callback_base* cb, std::int64_t when) {
        heap_.push_back(entry{when, next_seq_++, cb});
        sift_up(heap_.size() - 1);
    }
    entry pop() noexcept {
        entry e = heap_.front();
        heap_.front() = heap_.back();
        heap_.pop_back();
        if (!heap_.empty()) sift_down(0);
        return e;
    }
    // Drops every cancelled entry (releasing its reference) and re-heapifies.
    void purge_cancelled();
    // Releases every entry (loop close).
    void clear() noexcept;

private:
    static bool before(const entry& a, const entry& b) noexcept {
        return a.when < b.when || (a.when == b.when && a.seq < b.seq);
    }
    void sift_up(std::size_t i) noexcept {
        entry e = heap_[i];
        while (i > 0) {
            std::size_t parent = (i - 1) / 4;
            if (!before(e, heap_[parent])) break;
            heap_[i] = heap_[parent];
            i = parent;
        }
        heap_[i] = e;
    }
    void sift_down(std::size_t i) noexcept {
        entry e = heap_[i];
        std::size_t n = heap_.size();
        for (;;) {
            std::size_t first = 4 * i + 1;
            if (first >= n) break;
            std::size_t best = first;
            std::size_t last = first + 4 < n ? first + 4 : n;
            for (std::size_t c = first + 1; c < last; ++c)
                if (before(heap_[c], heap_[best])) best = c;
            if (!before(heap_[best], e)) break;
            heap_[i] = heap_[best];
            i = best;
        }
        heap_[i] = e;
    }

    std::vector<entry> heap_;
    std::uint64_t next_seq_ = 0;
};

}  // namespace weft::detail
