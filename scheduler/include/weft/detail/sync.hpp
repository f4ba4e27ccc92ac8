// The synchronisation primitives that weft's lock-free parts (work_queue.hpp,
// idle.hpp, handoff.hpp) are written against, as a policy class: std_sync is
// the standard library's (and the kernel's), which weft runs on; the model
// checker (tests/model, docs/model_checking.md) substitutes primitives whose
// every use is a scheduling point it controls, so that it can explore the
// interleavings of the very code that ships.
//
// A policy provides:
//   template <class T> using atomic = ...;   std::atomic<T>'s interface
//   using mutex = ...;                        std::mutex's interface
//   static void fence(std::memory_order);     std::atomic_thread_fence
// and, for the hand-off:
//   static void light_fence();     the cheap side of the asymmetric pair
//   static void heavy_fence();     the expensive side (membarrier)
//   static void compiler_fence();  std::atomic_signal_fence(seq_cst)
//   static void backoff(unsigned spins);  a spin-wait's pause (spins so far)
//   static void yield();           std::this_thread::yield
// std_sync's members are aliases and inline calls: code instantiated with it
// compiles to what it did when it named them directly.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

#include <weft/detail/config.hpp>

namespace weft::detail {

// Membarrier is available (see handoff.hpp): the fast path needs only a
// compiler fence. Set once when the first runtime starts.
extern bool g_asymmetric_fences;
inline void light_fence() noexcept {
    if (WEFT_LIKELY(g_asymmetric_fences)) {
        std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
}
// A full fence on every thread of the process that runs (membarrier), or a
// fence on this one where membarrier is missing (then light_fence is a full
// fence too). Pairs with light_fence. (monitor.cpp)
void heavy_fence() noexcept;

struct std_sync {
    template <class T>
    using atomic = std::atomic<T>;
    using mutex = std::mutex;
    static void fence(std::memory_order order) noexcept { std::atomic_thread_fence(order); }

    static void light_fence() noexcept { detail::light_fence(); }
    static void heavy_fence() noexcept { detail::heavy_fence(); }
    static void compiler_fence() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }
    // A spin-wait's first 64 rounds pause the core; later ones give the
    // thread's time slice away, to whoever we are waiting for.
    static void backoff(unsigned spins) noexcept {
        if (spins < 64) {
            __builtin_ia32_pause();
        } else {
            std::this_thread::yield();
        }
    }
    static void yield() noexcept { std::this_thread::yield(); }
};

}  // namespace weft::detail
