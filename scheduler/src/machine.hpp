// A machine: one OS thread of a Go-mode runtime (Go's M). A machine drives
// at most one worker loop (Go's P) at a time; the runtime has exactly one
// loop per worker and at least as many machines, the rest spare.
//
// When a machine blocks inside a task step, the monitor (monitor.cpp) hands
// its loop to a spare machine; the blocked one finishes its step without
// touching the loop again and then becomes a spare itself. weft::blocking
// does the same hand-off up front.
//
// The hand-off protocol (the words it races on and their operations) is in
// weft/detail/handoff.hpp; a machine is a machine_steps, its half of it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include <weft/detail/config.hpp>
#include <weft/detail/handoff.hpp>
#include <weft/detail/thread_context.hpp>
#include <weft/event_loop.hpp>

namespace weft::detail {

class runtime_core;

// Registers for membarrier and sets g_asymmetric_fences; idempotent. Runs
// before a runtime starts its first thread.
void init_asymmetric_fences() noexcept;

struct alignas(cache_line) machine : machine_steps<std_sync> {
    machine(runtime_core& r, unsigned i) : rt(r), id(i) {}

    runtime_core& rt;
    const unsigned id;
    std::thread thread;
    // This thread's context (set by the thread before it drives anything).
    std::atomic<thread_context*> ctx{nullptr};

    // ---- written by this machine's thread only (with machine_steps' step)
    // The loop being driven (read by a retaker once the machine is frozen
    // in a step, when it cannot change).
    std::atomic<event_loop*> loop{nullptr};

    // ---- assignment, under `mutex`
    std::mutex mutex;
    std::condition_variable cv;
    event_loop* next = nullptr;  // the loop to drive next
    bool exit = false;
};

}  // namespace weft::detail
