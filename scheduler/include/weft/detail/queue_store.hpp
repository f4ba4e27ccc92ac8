// Where a weft queue keeps its items: FIFO (a growable ring, so a queue in
// steady state allocates nothing), LIFO (a vector) and priority order (a port
// of Python's heapq, so that even items that compare equal come out in the
// order asyncio.PriorityQueue gives them). They run under the queue's spin
// lock and are not thread-safe themselves.
//
// Each store has empty(), size(), push(T&&), pop() and take_items() (moves
// every item out into a container the caller destroys after unlocking).
// push() and pop() give the strong guarantee: when an allocation, a move or
// the comparator throws, the store is as it was and the item where it was.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft::detail {

// A FIFO ring buffer of T with a power-of-two capacity that doubles when full.
template <class T>
class item_ring {
public:
    item_ring() = default;
    item_ring(item_ring&& o) noexcept
        : buf_(std::exchange(o.buf_, nullptr)),
          cap_(std::exchange(o.cap_, 0)),
          head_(std::exchange(o.head_, 0)),
          size_(std::exchange(o.size_, 0)) {}
    item_ring& operator=(item_ring&&) = delete;
    ~item_ring() {
        clear();
        if (buf_) std::allocator<T>().deallocate(buf_, cap_);
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    void push_back(T&& v) {
        if (size_ == cap_) grow();
        ::new (static_cast<void*>(buf_ + ((head_ + size_) & (cap_ - 1)))) T(std::move(v));
        ++size_;
    }
    T pop_front() {
        T& slot = buf_[head_];
        T v(std::move(slot));  // if this throws, nothing has changed
        slot.~T();
        head_ = (head_ + 1) & (cap_ - 1);
        --size_;
        return v;
    }
    void clear() noexcept {
        for (; size_ != 0; --size_) {
            buf_[head_].~T();
            head_ = (head_ + 1) & (cap_ - 1);
        }
        head_ = 0;
    }

private:
    void grow() {
        std::size_t ncap = cap_ ? cap_ * 2 : 8;
        T* nbuf = std::allocator<T>().allocate(ncap);
        std::size_t done = 0;
        try {
            // Copies instead of moves where a move could throw and a copy is
            // possible (as std::vector does), so a failure leaves us intact.
            for (; done < size_; ++done) {
                ::new (static_cast<void*>(nbuf + done))
                    T(std::move_if_noexcept(buf_[(head_ + done) & (cap_ - 1)]));
            }
        } catch (...) {
            for (std::size_t i = 0; i < done; ++i)
                nbuf[i].~T();
            std::allocator<T>().deallocate(nbuf, ncap);
            throw;
        }
        std::size_t n = size_;
        clear();
        if (buf_) std::allocator<T>().deallocate(buf_, cap_);
        buf_ = nbuf;
        cap_ = ncap;
        head_ = 0;
        size_ = n;
    }

    T* buf_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

template <class T>
class fifo_store {
public:
    bool empty() const noexcept { return items_.empty(); }
    std::size_t size() const noexcept { return items_.size(); }
    void push(T&& v) { items_.push_back(std::move(v)); }
    T pop() { return items_.pop_front(); }
    item_ring<T> take_items() noexcept { return std::move(items_); }

private:
    item_ring<T> items_;
};

template <class T>
class lifo_store {
public:
    bool empty() const noexcept { return items_.empty(); }
    std::size_t size() const noexcept { return items_.size(); }
    void push(T&& v) { items_.push_back(std::move(v)); }
    T pop() {
        T v(std::move(items_.back()));
        items_.pop_back();
        return v;
    }
    std::vector<T> take_items() noexcept {
        std::vector<T> out;
        out.swap(items_);
        return out;
    }

private:
    std::vector<T> items_;
};

// A binary min-heap under `Compare` (`less(a, b)`: a comes out before b),
// laid out exactly as heapq's heappush / heappop lay out a list. Both first
// find where items go with comparisons alone, then move them, so a comparator
// that throws leaves the heap untouched.
template <class T, class Compare>
class heap_store {
public:
    heap_store() = default;
    explicit heap_store(Compare less) : less_(std::move(less)) {}

    bool empty() const noexcept { return items_.empty(); }
    std::size_t size() const noexcept { return items_.size(); }

    // heapq.heappush: append, then _siftdown(heap, 0, n).
    void push(T&& v) {
        std::size_t n = items_.size();
        std::size_t pos = n;
        while (pos > 0) {
            std::size_t parent = (pos - 1) >> 1;
            if (!less_(v, items_[parent])) break;
            pos = parent;
        }
        items_.push_back(std::move(v));
        if (pos == n) return;
        T moving(std::move(items_[n]));
        for (std::size_t i = n; i > pos;) {
            std::size_t parent = (i - 1) >> 1;
            items_[i] = std::move(items_[parent]);
            i = parent;
        }
        items_[pos] = std::move(moving);
    }

    // heapq.heappop: the last item replaces the root, _siftup walks it down
    // the path of smaller children to a leaf, _siftdown brings it back up
    // past the items it is smaller than.
    T pop() {
        std::size_t last = items_.size() - 1;
        if (last == 0) {
            T v(std::move(items_[0]));
            items_.pop_back();
            return v;
        }
        // The path of smaller children from the root to a leaf of the heap
        // without its last item (heapq's _siftup picks the right child
        // unless the left one is strictly smaller).
        std::size_t path[sizeof(std::size_t) * 8 + 1];
        std::size_t depth = 0;
        path[0] = 0;
        for (std::size_t child = 1; child < last; child = 2 * path[depth] + 1) {
            std::size_t right = child + 1;
            if (right < last && !less_(items_[child], items_[right])) child = right;
            path[++depth] = child;
        }
        // _siftdown from that leaf: the last item settles below every path
        // item it is not smaller than. Path item k has moved up to slot k-1
        // by then, so the last item is compared with it.
        std::size_t stop = depth;
        while (stop > 0 && less_(items_[last], items_[path[stop]]))
            --stop;
        T top(std::move(items_[0]));
        for (std::size_t k = 0; k < stop; ++k)
            items_[path[k]] = std::move(items_[path[k + 1]]);
        items_[path[stop]] = std::move(items_[last]);
        items_.pop_back();
        return top;
    }

    std::vector<T> take_items() noexcept {
        std::vector<T> out;
        out.swap(items_);
        return out;
    }

private:
    std::vector<T> items_;
    [[no_unique_address]] Compare less_;
};

}  // namespace weft::detail
