// A growable FIFO ring buffer for one thread: the asyncio-mode ready queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include <weft/detail/config.hpp>

namespace weft::detail {

// An idle loop or worker frees a ready queue grown past this many items
// (64 KiB): a burst of a million callbacks leaves 8 MB otherwise.
inline constexpr std::size_t ready_shrink_above = 8192;

// Holds trivially copyable items (tagged pointers). Capacity is a power of two
// and doubles when full, so push is amortised O(1) and never fails.
template <class T>
class ring_queue {
public:
    ring_queue() = default;
    ring_queue(const ring_queue&) = delete;
    ring_queue& operator=(const ring_queue&) = delete;
    ~ring_queue() { std::free(buf_); }

    bool empty() const noexcept { return head_ == tail_; }
    std::size_t size() const noexcept { return tail_ - head_; }

    void push_back(T v) {
        if (WEFT_UNLIKELY(tail_ - head_ == cap_)) grow();
        buf_[tail_++ & (cap_ - 1)] = v;
    }
    T pop_front() noexcept { return buf_[head_++ & (cap_ - 1)]; }
    T& front() noexcept { return buf_[head_ & (cap_ - 1)]; }
    std::size_t capacity() const noexcept { return cap_; }

    // Frees the buffer of an empty queue that a burst grew past `keep` items,
    // so that memory a burst needed once is not kept for the life of the
    // queue; the next push starts small again and doubles as usual.
    void shrink_if_empty(std::size_t keep) noexcept {
        if (!empty() || cap_ <= keep) return;
        std::free(buf_);
        buf_ = nullptr;
        cap_ = 0;
        head_ = tail_ = 0;
    }
    // Moves the items of a queue that a burst grew past `keep` items, and
    // that now holds at most a 64th of its capacity, into a buffer four
    // times their count (256 at least). For a loop that never goes idle,
    // where shrink_if_empty is not reached: a million tasks started in one
    // iteration leave 8 MB of queue behind them otherwise. The 64-fold gap
    // keeps a queue that swings between bursts from moving back and forth
    // each iteration. Where the smaller buffer cannot be had, nothing moves.
    void shrink_if_sparse(std::size_t keep) noexcept {
        if (cap_ <= keep || size() > cap_ / 64) return;
        std::size_t ncap = min_capacity;
        while (ncap < 4 * size())
            ncap *= 2;
        auto* nbuf = static_cast<T*>(std::malloc(ncap * sizeof(T)));
        if (nbuf != nullptr) move_to(nbuf, ncap);
    }

private:
    // Out of line, so that push_back's fast path stays a handful of
    // instructions with no registers to save.
    WEFT_NOINLINE __attribute__((cold)) void grow() {
        std::size_t ncap = cap_ ? cap_ * 2 : min_capacity;
        auto* nbuf = static_cast<T*>(std::malloc(ncap * sizeof(T)));
        if (!nbuf) throw std::bad_alloc();
        move_to(nbuf, ncap);
    }
    // The items, in order, into `nbuf` of `ncap` (a power of two, at least
    // size()) items, which the queue then owns.
    void move_to(T* nbuf, std::size_t ncap) noexcept {
        std::size_t n = size();
        for (std::size_t i = 0; i < n; ++i)
            nbuf[i] = buf_[(head_ + i) & (cap_ - 1)];
        std::free(buf_);
        buf_ = nbuf;
        cap_ = ncap;
        head_ = 0;
        tail_ = n;
    }

    static constexpr std::size_t min_capacity = 256;

    T* buf_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t head_ = 0;  // indices grow without bound and are masked
    std::size_t tail_ = 0;
};

}  // namespace weft::detail
