// A machine: one OS thread of a Go-mode runtime (Go's M). A machine drives
// at most one worker loop (Go's P) at a time; the runtime has exactly one
// loop per worker and at least as many machines, the rest spare.
//
// When a machine blocks inside a task step, the monitor (monitor.cpp) hands
// its loop to a spare machine; the blocked one finishes its step without
// touching the loop again and then becomes a spare itself. weft::blocking
// does the same hand-off up front.
//
// The hand-off protocol, between the machine M driving loop L and a retaker
// R (the monitor, or M itself in weft::blocking):
//   1. R claims M's `retake` word (0 -> 1), then sets L's owner to the spare,
//      then runs a heavy fence (membarrier: a full fence on every thread).
//   2. R reads M's `step` word. If M is no longer in the step R saw stuck, R
//      restores the owner and releases the claim (1 -> 0): M carries on.
//   3. Otherwise R waits until M is in no owner-only operation (owner_ops is
//      0), marks the claim taken (2) and gives L to the spare.
// M, after every step, clears its in-step bit, runs a light fence (a
// compiler fence when membarrier is available) and looks at `retake`: 0 is
// the fast path; 1 means wait for R's decision; 2 means L is gone.
// During a step, every owner-only operation on L checks the owner the same
// way (event_loop::owner_scope) and takes a thread-safe path when it lost.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include <weft/detail/config.hpp>
#include <weft/detail/thread_context.hpp>
#include <weft/event_loop.hpp>

namespace weft::detail {

class runtime_core;

// `retake` values.
inline constexpr int retake_none = 0;
inline constexpr int retake_deciding = 1;
inline constexpr int retake_taken = 2;

// A full fence on every thread of the process that runs (membarrier), or a
// fence on this one where membarrier is missing (then light_fence is a full
// fence too). Pairs with light_fence.
void heavy_fence() noexcept;
// Registers for membarrier and sets g_asymmetric_fences; idempotent. Runs
// before a runtime starts its first thread.
void init_asymmetric_fences() noexcept;

struct alignas(cache_line) machine {
    machine(runtime_core& r, unsigned i) : rt(r), id(i) {}

    runtime_core& rt;
    const unsigned id;
    std::thread thread;
    // This thread's context (set by the thread before it drives anything).
    std::atomic<thread_context*> ctx{nullptr};

    // ---- written by this machine's thread only
    // 2 * (steps begun) + 1 while a step runs. release at a step's start:
    // the monitor's acquire load then sees what the machine did before it.
    std::atomic<std::uint64_t> step{0};
    // The loop being driven (read by a retaker once the machine is frozen
    // in a step, when it cannot change).
    std::atomic<event_loop*> loop{nullptr};
    std::uint64_t steps = 0;

    // ---- the retake claim; see the protocol above
    std::atomic<int> retake{retake_none};

    // ---- assignment, under `mutex`
    std::mutex mutex;
    std::condition_variable cv;
    event_loop* next = nullptr;  // the loop to drive next
    bool exit = false;

    void begin_step() noexcept {
        ++steps;
        // release: pairs with the monitor's acquire load of `step`.
        step.store(2 * steps + 1, std::memory_order_release);
    }
    // True when the loop was taken from this machine during the step.
    bool end_step() noexcept {
        // release: pairs with a task dump's acquire load (task_dump.cpp):
        // a dump that sees the step ended may read the frames it changed.
        // A plain store on x86, as relaxed was.
        step.store(2 * steps, std::memory_order_release);
        light_fence();  // pairs with the retaker's heavy_fence
        if (WEFT_LIKELY(retake.load(std::memory_order_relaxed) == retake_none)) return false;
        return wait_for_retake();
    }
    // A retake is being decided or done: wait for the verdict.
    bool wait_for_retake() noexcept {
        int r;
        unsigned spins = 0;
        // acquire: pairs with the retaker's release of its verdict.
        while ((r = retake.load(std::memory_order_acquire)) == retake_deciding) {
            if (++spins < 64) {
                __builtin_ia32_pause();
            } else {
                std::this_thread::yield();
            }
        }
        return r == retake_taken;
    }
};

}  // namespace weft::detail
