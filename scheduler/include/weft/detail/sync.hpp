// The synchronisation primitives that weft's lock-free parts (work_queue.hpp,
// idle.hpp) are written against, as a policy class: std_sync is the standard
// library's, which weft runs on; the model checker (tests/model,
// docs/model_checking.md) substitutes primitives whose every use is a
// scheduling point it controls, so that it can explore the interleavings of
// the very code that ships.
//
// A policy provides:
//   template <class T> using atomic = ...;   std::atomic<T>'s interface
//   using mutex = ...;                        std::mutex's interface
//   static void fence(std::memory_order);     std::atomic_thread_fence
// std_sync's members are aliases and inline calls: code instantiated with it
// compiles to what it did when it named them directly.
#pragma once

#include <atomic>
#include <mutex>

namespace weft::detail {

struct std_sync {
    template <class T>
    using atomic = std::atomic<T>;
    using mutex = std::mutex;
    static void fence(std::memory_order order) noexcept { std::atomic_thread_fence(order); }
};

}  // namespace weft::detail
