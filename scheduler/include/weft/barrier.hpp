// weft::barrier: asyncio.Barrier (Python 3.11), safe across threads.
//
//     weft::barrier b(3);
//     std::size_t index = co_await b.wait();   // returns once 3 tasks are waiting
//
// wait() returns the task's arrival index, 0 to parties()-1. The barrier is
// reusable: once the last party arrives it drains (the released tasks leave;
// newcomers wait for the draining to finish) and fills again. abort() breaks
// it: every waiting task and every later wait() raises broken_barrier_error
// until reset(). reset() empties it; tasks waiting at that moment raise
// broken_barrier_error. A cancelled wait() leaves the barrier, as in asyncio.
//
// It is asyncio's own algorithm on a weft::condition, so its traces are
// asyncio's, and the condition's lock makes it safe across workers.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

#include <weft/condition.hpp>
#include <weft/task.hpp>

namespace weft {

// asyncio.BrokenBarrierError: the barrier was aborted or reset while a task
// waited on it, or is waited on while broken.
class broken_barrier_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class barrier {
public:
    // Raises std::invalid_argument if parties is 0.
    explicit barrier(std::size_t parties) : parties_(parties) {
        if (parties == 0) throw std::invalid_argument("weft::barrier: parties must be > 0");
    }
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;

    // Waits until parties() tasks wait; returns this task's arrival index.
    task<std::size_t> wait();
    // Puts the barrier in the broken state: waiting tasks and later waits
    // raise broken_barrier_error.
    task<void> abort();
    // Back to the empty, filling state; tasks waiting now raise
    // broken_barrier_error.
    task<void> reset();

    std::size_t parties() const noexcept { return parties_; }
    // The tasks waiting for the barrier to fill (0 while draining).
    std::size_t n_waiting() const noexcept {
        // Relaxed: a snapshot; both fields change under the condition's lock.
        if (state_.load(std::memory_order_relaxed) != filling) return 0;
        return count_.load(std::memory_order_relaxed);
    }
    bool broken() const noexcept { return state_.load(std::memory_order_relaxed) == broken_state; }

private:
    enum state_t : std::uint8_t { filling, draining, resetting, broken_state };

    // ---- with the condition's lock held
    state_t state() const noexcept { return state_.load(std::memory_order_relaxed); }
    void set_state(state_t s) noexcept { state_.store(s, std::memory_order_relaxed); }
    // Blocks while the barrier drains or resets; raises if it is broken.
    task<void> block();
    // Waits until the barrier stops filling; raises if it was reset or broken.
    task<void> wait_released();
    // The last task out wakes those waiting for the draining to end.
    void leave() {
        if (count_.load(std::memory_order_relaxed) == 0) {
            if (state() == resetting || state() == draining) set_state(filling);
            cond_.notify_all();
        }
    }

    condition cond_;  // notifies every waiter when the state changes
    std::size_t parties_;
    std::atomic<state_t> state_{filling};
    std::atomic<std::size_t> count_{0};  // tasks in the barrier
};

inline task<void> barrier::block() {
    co_await cond_.wait_for([this] { return state() != draining && state() != resetting; });
    if (state() == broken_state) throw broken_barrier_error("weft::barrier: barrier aborted");
}

inline task<void> barrier::wait_released() {
    co_await cond_.wait_for([this] { return state() != filling; });
    if (state() == broken_state || state() == resetting)
        throw broken_barrier_error("weft::barrier: abort or reset of barrier");
}

inline task<std::size_t> barrier::wait() {
    auto held = co_await cond_.scoped();
    co_await block();
    std::size_t index = count_.load(std::memory_order_relaxed);
    count_.store(index + 1, std::memory_order_relaxed);
    std::exception_ptr failure;
    try {
        if (index + 1 == parties_) {
            // The last to arrive releases the others: the barrier drains.
            set_state(draining);
            cond_.notify_all();
        } else {
            co_await wait_released();
        }
    } catch (...) {
        failure = std::current_exception();
    }
    count_.store(count_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    leave();
    if (failure) std::rethrow_exception(failure);
    co_return index;
}

inline task<void> barrier::abort() {
    auto held = co_await cond_.scoped();
    set_state(broken_state);
    cond_.notify_all();
}

inline task<void> barrier::reset() {
    auto held = co_await cond_.scoped();
    if (count_.load(std::memory_order_relaxed) > 0) {
        if (state() != resetting) set_state(resetting);
    } else {
        set_state(filling);
    }
    cond_.notify_all();
}

}  // namespace weft
