// The atomic core of the hand-off: how a loop driven by a machine (an OS
// thread of a Go-mode runtime) blocked in a task step goes to another
// machine, while the blocked one may be ending its step at that very moment.
// The threads, the spares and the monitor that use it are in machine.hpp and
// monitor.cpp; this header holds only the words they race on and the
// operations on them, in the order the protocol needs, so that the model
// checker runs this very code (tests/model/test_handoff.cpp).
//
// The protocol, between the machine M driving loop L and a retaker R (the
// monitor, or M itself in weft::blocking):
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
// way (enter_owner_operation) and takes a thread-safe path when it lost.
//
// `Sync` (sync.hpp) supplies the atomics, the asymmetric fence pair
// (light_fence, heavy_fence), compiler_fence, and the spin-wait's backoff
// and yield.
#pragma once

#include <atomic>
#include <cstdint>

#include <weft/detail/config.hpp>
#include <weft/detail/sync.hpp>

namespace weft::detail {

// `retake` values.
inline constexpr int retake_none = 0;
inline constexpr int retake_deciding = 1;
inline constexpr int retake_taken = 2;

// A machine's half: its step word and the retake claim on it.
template <class Sync>
struct machine_steps {
    template <class T>
    using atomic = typename Sync::template atomic<T>;

    // ---- written by this machine's thread only
    // 2 * (steps begun) + 1 while a step runs. release at a step's start:
    // the monitor's acquire load then sees what the machine did before it.
    atomic<std::uint64_t> step{0};
    std::uint64_t steps = 0;

    // ---- the retake claim; see the protocol above
    atomic<int> retake{retake_none};

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
        Sync::light_fence();  // pairs with the retaker's heavy_fence
        if (WEFT_LIKELY(retake.load(std::memory_order_relaxed) == retake_none)) return false;
        return wait_for_retake();
    }
    // A retake is being decided or done: wait for the verdict.
    bool wait_for_retake() noexcept {
        int r;
        unsigned spins = 0;
        // acquire: pairs with the retaker's release of its verdict.
        while ((r = retake.load(std::memory_order_acquire)) == retake_deciding)
            Sync::backoff(++spins);
        return r == retake_taken;
    }

    // Step 1's claim, for the monitor: false if the claim is held already
    // (weft::blocking on that thread is handing the loop off).
    bool try_claim() noexcept {
        int expected = retake_none;
        // acquire: pairs with the release of a previous verdict.
        return retake.compare_exchange_strong(expected, retake_deciding, std::memory_order_acquire,
                                              std::memory_order_relaxed);
    }
    // The claim for weft::blocking, on the machine's own thread: waits out
    // a monitor that is deciding. False if the monitor took the loop first.
    bool claim_own() noexcept {
        int expected = retake_none;
        while (!retake.compare_exchange_weak(expected, retake_deciding, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
            if (expected == retake_taken) return false;  // the monitor was first
            expected = retake_none;                      // deciding: it will let go soon
            Sync::yield();
        }
        return true;
    }
    // Gives the claim up with nothing done (no spare thread to be had).
    void release_claim() noexcept {
        // release: pairs with the acquire of the next claim and of end_step.
        retake.store(retake_none, std::memory_order_release);
    }
};

// Steps 1 to 3 for the monitor, which holds `m`'s claim and a `spare`:
// true when the loop is taken (then `m` is frozen in step `step`, out of
// any owner-only operation, the loop has no driver, the verdict is out, and
// the caller assigns the loop to the spare); false when the step ended
// meanwhile (ownership restored, claim released: the caller puts the spare
// back). `m_loop` is the loop `m` drives; `owner_ops()` gives `m`'s count of
// owner-only operations in progress, something with load(order).
template <class Sync, class Machine, class Loop, class OwnerOps>
bool take_blocked_loop(machine_steps<Sync>& m, Machine* blocked,
                       const typename Sync::template atomic<Loop*>& m_loop, Loop* loop,
                       typename Sync::template atomic<Machine*>& owner,
                       typename Sync::template atomic<Machine*>& driver, Machine* spare,
                       std::uint64_t step, OwnerOps&& owner_ops) noexcept {
    // release: publishes the spare (maybe just made) to the monitor's acquire
    // load of owner_.
    owner.store(spare, std::memory_order_release);
    Sync::heavy_fence();  // pairs with light_fence in end_step and enter_owner_operation
    // acquire: pairs with begin_step's release; `m_loop` was set before it.
    if (m.step.load(std::memory_order_acquire) != step ||
        m_loop.load(std::memory_order_relaxed) != loop) {
        // The step ended meanwhile: nothing to hand off.
        owner.store(blocked, std::memory_order_relaxed);
        m.release_claim();
        return false;
    }
    // Frozen in the step: wait out an owner-only operation in progress
    // (those starting now see the new owner). acquire: pairs with the
    // release in leave_owner_operation, so that operation happens before
    // the spare's.
    auto&& ops = owner_ops();
    for (unsigned spins = 0; ops.load(std::memory_order_acquire) != 0; ++spins)
        Sync::backoff(spins);
    // release: the next driver's exchange sees everything this one did.
    driver.store(nullptr, std::memory_order_release);
    // release: the blocked machine, seeing the verdict, stops touching the loop.
    m.retake.store(retake_taken, std::memory_order_release);
    return true;
}

// weft::blocking, on the driving machine's own thread, holding its own
// claim: this thread is the owner and is in no owner-only operation, so no
// fence or wait is needed to give the loop away.
template <class Sync, class Machine>
void give_own_loop(machine_steps<Sync>& m, typename Sync::template atomic<Machine*>& owner,
                   typename Sync::template atomic<Machine*>& driver, Machine* spare) noexcept {
    // release: publishes the spare (maybe just made) to the monitor.
    owner.store(spare, std::memory_order_release);
    driver.store(nullptr, std::memory_order_release);
    m.retake.store(retake_taken, std::memory_order_release);
}

// event_loop::owner_scope's two halves, an asymmetric Dekker with the
// retaker: this thread raises its count of owner-only operations, then
// (light fence) reads the owner; the retaker writes the owner, runs the
// heavy fence, then waits for the count to drop to zero. Either this thread
// sees the new owner, or the retaker sees it inside the operation and
// waits it out. `ops` is the calling thread's count; `me` is taken by
// reference so that it is read after the fence, as owner_scope always did.
// Always inlined: they are owner_scope's constructor and destructor, on every
// push of a busy worker, and compile to what those were before.
template <class Sync, class Ops, class Owner, class Me>
WEFT_ALWAYS_INLINE bool enter_owner_operation(Ops& ops, const Owner& owner, const Me& me) noexcept {
    ops.store(ops.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    Sync::light_fence();
    return owner.load(std::memory_order_relaxed) == me;
}
template <class Sync, class Ops>
WEFT_ALWAYS_INLINE void leave_owner_operation(Ops& ops) noexcept {
    Sync::compiler_fence();
    // release: pairs with the retaker's acquire wait for zero, so this
    // operation happens before the new owner's first.
    ops.store(ops.load(std::memory_order_relaxed) - 1, std::memory_order_release);
}

}  // namespace weft::detail
