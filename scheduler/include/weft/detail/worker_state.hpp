// What an event loop adds when it is a worker of a Go-mode runtime: its local
// run queue, the runnext slot, the counters behind the runtime metrics, and
// the stack of its tasks that finished on other workers.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <weft/detail/work_queue.hpp>

namespace weft::detail {

class task_record;

// Go's runq and Tokio's local queue hold 256. Fork-join code needs more: run
// depth-first, a task tree of depth d keeps about d*d/2 spawned children
// waiting (fib(30): ~450), and every overflow sends work through the global
// queue. 1024 slots (8 KiB) cover trees 40 deep.
inline constexpr std::uint32_t local_queue_capacity = 1024;
// How many times in a row a worker may run the task in its runnext slot
// before it takes one from its queue instead, so that two tasks waking each
// other cannot starve the rest (Tokio allows 3).
inline constexpr unsigned max_lifo_streak = 3;
// Every this many scheduling ticks a busy worker looks at the global queue
// first, polls its timers and I/O, and tidies up (Go checks its global queue
// every 61 ticks; 61 is prime, so it does not beat with periodic workloads).
inline constexpr std::uint32_t maintenance_interval = 61;
// How many rounds a worker that found nothing keeps searching (stealing,
// looking at the global queue, a short pause in between) before it parks,
// as Go's spinning threads do. While a worker searches nobody needs waking
// (idle.hpp, rule 2), so a producer that keeps a consumer just busy enough
// pays no wake-up syscalls. About 20-50 microseconds of searching.
inline constexpr unsigned search_rounds_before_park = 64;
inline constexpr unsigned pauses_per_search_round = 16;

// The most items moved in one go between a loop and a shared queue (the
// global queue, a loop's remote queue): a batch lives in an array on the
// stack, and 64 (Go's globrunqget takes up to half a local queue; Tokio
// moves 128 with an overflow) keeps one pull short while amortising the
// queue's lock.
inline constexpr std::size_t shared_queue_batch = 64;

// The cooperative budget: how many awaits of already-complete things a task
// step may make before one of them yields anyway (Tokio uses 128).
inline constexpr int coop_budget = 128;

// A counter written by one thread and read by any: increments are a load and
// a store, not a read-modify-write.
class stat_counter {
public:
    void add(std::uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(std::uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
    std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

struct worker_counters {
    stat_counter tasks_run;
    stat_counter steal_attempts;
    stat_counter steal_successes;
    stat_counter tasks_stolen;
    stat_counter parks;
    stat_counter unparks;
    stat_counter injection_pulls;
    stat_counter overflows;
    stat_counter local_queue_depth;
    stat_counter busy_ns;
    stat_counter busy_since;  // loop clock when it last unparked; 0 while parked
    stat_counter handoffs;    // times this loop went to another thread
};

struct worker_state {
    work_queue<local_queue_capacity> local;
    std::uintptr_t runnext = 0;  // owner only: not stealable, as in Tokio
    unsigned lifo_streak = 0;
    std::uint32_t tick = 0;
    bool searching = false;
    unsigned search_rounds = 0;  // rounds searched since work was last found
    // Shutdown rounds this worker has done (read by the coordinating thread).
    std::atomic<unsigned> cancel_round_seen{0};
    std::uint64_t rng = 0;  // victim selection
    // Tasks registered here that completed on another worker, waiting to be
    // unlinked by this one (a lock-free stack; this worker takes it whole).
    std::atomic<task_record*> unlink_stack{nullptr};
    // Tasks created for this worker by a thread that does not drive it (one
    // that lost the loop while blocked in a step), waiting to be linked.
    std::atomic<task_record*> link_stack{nullptr};
    // Live tasks registered here (owner writes, anyone reads).
    std::atomic<std::size_t> live{0};
    worker_counters counters;
};

}  // namespace weft::detail
