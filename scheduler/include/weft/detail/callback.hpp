// A unit of work for an event loop other than a task step: a call_soon or
// call_later callback (asyncio's Handle and TimerHandle), a done-callback on
// its way to running, a timer that wakes a sleeping task. Reference counted:
// the loop's queue holds one reference and each user-visible handle another.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include <weft/detail/frame_allocator.hpp>

namespace weft {
class event_loop;
}

namespace weft::detail {

struct callback_base {
    using invoke_fn = void (*)(callback_base*);
    using destroy_fn = void (*)(callback_base*) noexcept;

    explicit callback_base(invoke_fn inv, destroy_fn des, std::uint32_t initial_refs = 1) noexcept
        : invoke(inv), destroy(des), refs(initial_refs) {}

    invoke_fn invoke;
    destroy_fn destroy;
    std::atomic<std::uint32_t> refs;
    // Set by cancel(): the loop drops the callback instead of running it.
    // Relaxed: a cancel racing with the run from another thread may or may
    // not stop it, exactly as with asyncio's call_soon_threadsafe.
    std::atomic<bool> cancelled{false};
    // Timers only: the loop-clock deadline in nanoseconds, and the loop whose
    // heap holds it (for the cancelled-timer count that triggers compaction).
    std::int64_t when = 0;
    // Relaxed: read by a cancelling thread only to bump a statistic.
    std::atomic<event_loop*> timer_loop{nullptr};

    void add_ref() noexcept {
        // Relaxed: a new reference is made from an existing one, which keeps
        // the object alive; nothing is published by the increment itself.
        refs.fetch_add(1, std::memory_order_relaxed);
    }
    void release() noexcept {
        // acq_rel: the last release must see every write made through other
        // references before it destroys the object.
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(this);
    }
};

// Stops `cb` from running if it has not run yet (asyncio Handle.cancel).
void cancel_callback(callback_base* cb) noexcept;

// A callback holding any callable `void()`.
template <class F>
struct callback_impl final : callback_base, pooled {
    template <class G>
    explicit callback_impl(G&& g, std::uint32_t initial_refs)
        : callback_base(&run, &drop, initial_refs), fn(std::forward<G>(g)) {}

    static void run(callback_base* b) { static_cast<callback_impl*>(b)->fn(); }
    static void drop(callback_base* b) noexcept { delete static_cast<callback_impl*>(b); }

    F fn;
};

template <class F>
callback_base* make_callback(F&& f, std::uint32_t initial_refs = 1) {
    return new callback_impl<std::decay_t<F>>(std::forward<F>(f), initial_refs);
}

}  // namespace weft::detail
