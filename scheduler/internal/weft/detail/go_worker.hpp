// detail::go_worker: what an event loop adds when it is a worker of a
// Go-mode runtime (Go's P, Tokio's multi_thread worker): the runnext slot,
// the local deque and FIFO it schedules from, parking and searching, the
// counters behind the runtime metrics, the hand-off's owner and driver, and
// the stacks through which other threads link and unlink its tasks. The
// event loop it belongs to keeps what both flavors share (timers, poller,
// task registry, the asyncio API); it reaches this class only through the
// out-of-line go_worker_* calls declared in event_loop.hpp, once per entry
// point. Defined in go_worker.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include <weft/detail/handoff.hpp>
#include <weft/detail/ring_queue.hpp>
#include <weft/detail/sync.hpp>
#include <weft/detail/thread_context.hpp>
#include <weft/detail/work_queue.hpp>

namespace weft {
class event_loop;
}

namespace weft::detail {

class task_record;
class runtime_core;
struct machine;

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
// The search's length adapts to what searching has been finding
// (go_worker::search_budget_): halved, down to min_search_rounds, after a
// search that ended in parking; doubled, back up to
// search_rounds_before_park, after one that found work in the second half
// of its rounds, or after a park that ended within quick_wake_ns (a little
// more searching would have found that work without the sleep and the
// wake-up). A TLS server's worker waits hundreds of microseconds for its next
// handshake, and there a full search is spent for nothing; an echo server's
// next request comes within microseconds, and a fork-join spawner's next
// task sooner.
inline constexpr unsigned min_search_rounds = 8;
inline constexpr std::uint64_t quick_wake_ns = 50'000;

// The most items moved in one go between a loop and a shared queue (the
// global queue, a loop's remote queue): a batch lives in an array on the
// stack, and 64 (Go's globrunqget takes up to half a local queue; Tokio
// moves 128 with an overflow) keeps one pull short while amortising the
// queue's lock.
inline constexpr std::size_t shared_queue_batch = 64;

// A join runs the unstarted task it awaits in place only while the native
// stack has this much room left above the driver's bounce limit
// (thread_context.hpp), which bounds how deep joins nest.
inline constexpr long join_inline_stack_reserve = 32 * 1024;
// How deep in the deque a join looks for the task it awaits: a parent that
// spawned ten children and awaits the first finds it under the other nine.
inline constexpr std::uint32_t join_inline_window = 16;

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
    stat_counter joins_in_place;
};

class go_worker {
public:
    go_worker(event_loop& loop, runtime_core& rt, unsigned index) noexcept;
    go_worker(const go_worker&) = delete;
    go_worker& operator=(const go_worker&) = delete;

    // ---- scheduling, on the thread that drives the loop (a thread that
    // lost the loop in a hand-off is sent to the thread-safe paths)
    // A task just spawned or woken: into the runnext slot; the task it
    // displaces goes to the deque.
    void push_wake(std::uintptr_t item);
    // Behind other ready work, in FIFO order (callbacks, yields, due
    // timers): run when the deque is empty and every 61 ticks, and handed
    // to the global queue when it grows while other workers are idle.
    void push_ready(std::uintptr_t item);
    // Onto the deque; a full deque sends half of itself to the global queue.
    void push_local(std::uintptr_t item);
    // How many items wait in the FIFO (0 on a thread that lost the loop).
    std::size_t ready_count() const noexcept;
    // For a join (go_worker_join_inline): whether `item` waits in the
    // runnext slot or among the newest join_inline_window items of the
    // deque, where a task spawned and then awaited is unless a thief took
    // it. Compares, never follows, what it sees.
    bool queued_near_top(std::uintptr_t item) noexcept;
    // The newest item, from the runnext slot or the deque, if it is a task
    // whose first step has not run; else null, and nothing is taken.
    task_record* take_unstarted() noexcept;
    // Drives the loop on machine `m` until the runtime stops (false) or the
    // loop is taken from `m` while it is blocked in a step (true).
    bool run(machine& m);
    // Items still queued when the loop closes, for `drop`.
    template <class Drop>
    void drop_queued(Drop drop) {
        while (!fifo_.empty())
            drop(fifo_.pop_front());
        if (runnext_) drop(std::exchange(runnext_, 0));
        // No thread drives the loop any more: the closing one is the owner
        // now, whichever runtime thread it is (so no own_queue() check).
        auto q = local.owner();
        while (std::uintptr_t item = q.pop())
            drop(item);
    }
    // The task registry's cross-thread side (event_loop::register_task and
    // unregister_task push, the driver drains).
    void drain_links() noexcept;
    void drain_unlinks() noexcept;

    // ---- state other threads read: stealers, the runtime, the monitor
    work_queue<local_queue_capacity> local;
    // Shutdown rounds this worker has done (read by the coordinating thread).
    std::atomic<unsigned> cancel_round_seen{0};
    // Tasks registered here that completed on another worker, waiting to be
    // unlinked by this one (a lock-free stack; this worker takes it whole).
    std::atomic<task_record*> unlink_stack{nullptr};
    // Tasks created for this worker by a thread that does not drive it (one
    // that lost the loop while blocked in a step), waiting to be linked.
    std::atomic<task_record*> link_stack{nullptr};
    // Live tasks registered here (owner writes, anyone reads).
    std::atomic<std::size_t> live{0};
    worker_counters counters;
    // The machine that owns this loop: the one driving it, or about to (see
    // owner_guard and machine.hpp). Null while no runtime thread runs.
    std::atomic<machine*> owner{nullptr};
    // The machine inside run(), checked on entry and at every step: no loop
    // is ever driven by two threads at once.
    std::atomic<machine*> driver{nullptr};

private:
    // The owner side of the deque, for the thread that drives the loop
    // (asserted); other workers reach it only as stealers.
    work_queue<local_queue_capacity>::owner_handle own_queue() noexcept;
    std::uintptr_t next_local();
    std::uintptr_t find_work();
    std::uintptr_t steal_work();
    void park();
    void lengthen_search() noexcept;  // search_budget_ doubled, up to the most
    void maintenance();

    event_loop& loop_;
    runtime_core& rt_;
    const unsigned index_;
    std::uintptr_t runnext_ = 0;  // owner only: not stealable, as in Tokio
    ring_queue<std::uintptr_t> fifo_;
    unsigned lifo_streak_ = 0;
    std::uint32_t tick_ = 0;
    bool searching_ = false;
    unsigned search_rounds_ = 0;  // rounds searched since work was last found
    unsigned search_budget_ = search_rounds_before_park;  // rounds before parking
    std::uint64_t rng_ = 0;                               // victim selection
};

// event_loop::owner_scope for a worker, inlined on the scheduler's own hot
// paths: the asymmetric Dekker of handoff.hpp (cost: two plain stores and a
// load).
class owner_guard {
public:
    explicit owner_guard(const go_worker& w) noexcept : ctx_(tls_ctx) {
        std::atomic_ref<int> ops(ctx_.owner_ops);
        owned_ = enter_owner_operation<std_sync>(ops, w.owner, ctx_.machine);
    }
    ~owner_guard() {
        std::atomic_ref<int> ops(ctx_.owner_ops);
        leave_owner_operation<std_sync>(ops);
    }
    owner_guard(const owner_guard&) = delete;
    owner_guard& operator=(const owner_guard&) = delete;
    bool owned() const noexcept { return owned_; }

private:
    thread_context& ctx_;
    bool owned_;
};

}  // namespace weft::detail
