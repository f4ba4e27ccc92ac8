// The checker's synchronisation policy for weft's templates (the
// counterpart of weft/detail/sync.hpp's std_sync): work_queue<4, model_sync>
// is the real deque, every access of which the checker schedules.
#pragma once

#include <atomic>

#include "checker.hpp"

namespace weft::model {

struct model_sync {
    template <class T>
    using atomic = model::atomic<T>;
    using mutex = model::mutex;
    static void fence(std::memory_order order, const where& w = where::current()) {
        model::fence(order, w);
    }

    // The asymmetric pair with membarrier: the light side is a compiler
    // fence, nothing at run time; the heavy side puts a seq_cst fence in
    // every thread at the point it has reached.
    static void light_fence() {}
    static void heavy_fence(const where& w = where::current()) { model::fence_everywhere(w); }
    static void compiler_fence() {}
    // A spin-wait lets the others run (whoever it waits for).
    static void backoff(unsigned) { model::yield_now(); }
    static void yield() { model::yield_now(); }
};

// The asymmetric pair without membarrier (heavy_fence's fallback in
// monitor.cpp): both sides are seq_cst fences.
struct model_sync_without_membarrier : model_sync {
    static void light_fence(const where& w = where::current()) {
        model::fence(std::memory_order_seq_cst, w);
    }
    static void heavy_fence(const where& w = where::current()) {
        model::fence(std::memory_order_seq_cst, w);
    }
};

}  // namespace weft::model
