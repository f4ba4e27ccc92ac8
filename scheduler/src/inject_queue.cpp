// inject_queue (weft/detail/inject_queue.hpp): a locked list of segments
// that frees them as it drains.
#include <algorithm>
#include <cstring>

#include <weft/detail/inject_queue.hpp>

namespace weft::detail {

static_assert(sizeof(std::uintptr_t) != 8 || 16 + 510 * 8 == 4096,
              "a segment is meant to fill one page");

inject_queue::~inject_queue() {
    // Whatever is still queued belongs to the owner, which drains it first
    // (runtime_core's destructor); here only the memory goes.
    for (segment* s = head_; s != nullptr;) {
        segment* next = s->next;
        delete s;
        s = next;
    }
    delete spare_;
}

inject_queue::segment* inject_queue::new_segment() {
    if (spare_ != nullptr) {
        segment* s = spare_;
        spare_ = nullptr;
        s->next = nullptr;
        s->head = s->tail = 0;
        return s;
    }
    auto* s = new segment;
    ++segments_;
    return s;
}

void inject_queue::retire(segment* s) noexcept {
    // Keep one, so that a queue that fills and drains a little at a time (a
    // loop fed by another thread) does not allocate on every push.
    if (spare_ == nullptr) {
        spare_ = s;
        return;
    }
    delete s;
    --segments_;
}

void inject_queue::push(std::uintptr_t item) {
    push_batch(&item, 1);
}

void inject_queue::push_batch(const std::uintptr_t* items, std::size_t n) {
    std::lock_guard lock(mutex_);
    std::size_t done = 0;
    while (done < n) {
        if (tail_ == nullptr || tail_->tail == segment_capacity) {
            // Allocating under the lock: rare (once per 510 items), and a
            // bad_alloc leaves what was pushed so far queued and counted.
            segment* s = new_segment();
            if (tail_ == nullptr) {
                head_ = tail_ = s;
            } else {
                tail_->next = s;
                tail_ = s;
            }
        }
        std::size_t k = std::min<std::size_t>(n - done, segment_capacity - tail_->tail);
        std::memcpy(tail_->items + tail_->tail, items + done, k * sizeof(std::uintptr_t));
        tail_->tail += static_cast<std::uint32_t>(k);
        done += k;
        // relaxed: readers of the count without the lock order themselves
        // with fences (see size_approx).
        size_.store(size_.load(std::memory_order_relaxed) + k, std::memory_order_relaxed);
    }
}

std::size_t inject_queue::pop_batch(std::uintptr_t* out, std::size_t max) noexcept {
    if (max == 0 || empty_approx()) return 0;
    std::lock_guard lock(mutex_);
    std::size_t got = 0;
    while (got < max && head_ != nullptr) {
        segment* s = head_;
        std::size_t k = std::min<std::size_t>(max - got, s->tail - s->head);
        std::memcpy(out + got, s->items + s->head, k * sizeof(std::uintptr_t));
        s->head += static_cast<std::uint32_t>(k);
        got += k;
        if (s->head < s->tail) break;  // `max` reached inside this segment
        if (s == tail_) {
            if (s->tail < segment_capacity) {
                s->head = s->tail = 0;  // empty: the next push starts at the front
                break;
            }
            head_ = tail_ = nullptr;
        } else {
            head_ = s->next;
        }
        retire(s);
    }
    size_.store(size_.load(std::memory_order_relaxed) - got, std::memory_order_relaxed);
    return got;
}

std::size_t inject_queue::segments() const {
    std::lock_guard lock(mutex_);
    return segments_;
}

}  // namespace weft::detail
