// A worker of the Go-mode runtime: the scheduling loop (Go's schedule() and
// findrunnable(), one function each), stealing, and parking.
//
// Where a worker looks for its next item, in order:
//   1. every 61st tick: maintenance (timers, I/O, tidying), then the global
//      queue, so that injected work is not starved by local work;
//   2. the runnext slot (the task it just spawned or woke), at most 3 times
//      in a row, then the oldest local item gets a turn;
//   3. its local queue, newest first (depth-first for fork-join code);
//   4. the global queue;
//   5. its timers and poller, without waiting;
//   6. the local queues of the others, as a searcher (idle.hpp, rule 1);
//   7. nothing: it parks in its poller until woken, a timer or I/O.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <weft/detail/assert.hpp>
#include <weft/detail/frame_allocator.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>
#include <weft/log.hpp>

#include "machine.hpp"
#include "trace.hpp"

namespace weft {

using detail::task_record;
using detail::worker_state;

detail::work_queue<detail::local_queue_capacity>::owner_handle event_loop::own_queue() noexcept {
    // The owner: the machine driving this loop, or, while no runtime thread
    // runs, the thread setting up or tearing down (both null). driver_, not
    // owner_: a retaker sets owner_ to its spare for a moment even when the
    // step it saw has ended and the driver carries on (handoff.hpp, steps
    // 1 and 2), while driver_ changes only once the loop is taken.
    WEFT_ASSERT(driver_.load(std::memory_order_relaxed) == detail::tls_ctx.machine,
                "only the thread that drives a worker's loop pushes and pops its deque");
    return worker_->local.owner();
}

void event_loop::push_local(std::uintptr_t item) {
    worker_state& w = *worker_;
    auto local = own_queue();
    while (!local.try_push(item)) {
        // Full: send the older half and this item to the global queue (Go's
        // runqputslow), where any worker can take them.
        std::uintptr_t batch[detail::local_queue_capacity / 2 + 1];
        std::size_t n = 0;
        if (local.take_half_for_overflow([&](std::uintptr_t v) { batch[n++] = v; })) {
            batch[n++] = item;
            w.counters.overflows.add();
            rt_->inject_batch(batch, n);
            return;
        }
        // A thief is copying out of the queue; it is about to make room.
    }
    rt_->notify_parked();  // one atomic load unless someone should wake
}

bool event_loop::run_worker(detail::machine& m) {
    worker_state& w = *worker_;
    // Two threads driving one loop would corrupt it silently: check, cheaply.
    if (detail::machine* other = driver_.exchange(&m, std::memory_order_acq_rel)) {
        weft::log(weft::log_level::critical,
                  "weft: worker " + std::to_string(index_) + " driven by machines " +
                      std::to_string(other->id) + " and " + std::to_string(m.id) + " at once");
        std::abort();
    }
    m.loop.store(this, std::memory_order_relaxed);
    detail::tls_ctx.loop = this;
    running_ = true;
    w.counters.busy_since.set(static_cast<std::uint64_t>(time_ns()));
    while (!rt_->stopping()) {
        std::uintptr_t item = next_local();
        if (item == 0 && (item = find_work()) == 0) continue;
        if (w.searching) {
            // Found work: stop searching; if we were the last searcher and
            // more work is in sight, get another worker looking (idle.hpp,
            // rule 4). Work that this item makes later notifies by rule 2,
            // so a lone item (a submission from outside) wakes nobody.
            w.searching = false;
            w.search_rounds = 0;
            if (rt_->idle().stop_searching()) rt_->notify_if_work_pending();
        }
        w.counters.tasks_run.add();
        m.begin_step();
        run_item(item);
        if (WEFT_UNLIKELY(m.end_step())) {
            // Blocked in that step, the loop went to another machine, which
            // now drives it: not one more access to it from here.
            m.loop.store(nullptr, std::memory_order_relaxed);
            detail::tls_ctx.loop = nullptr;
            return true;
        }
        if (WEFT_UNLIKELY(driver_.load(std::memory_order_relaxed) != &m)) {
            weft::log(weft::log_level::critical,
                      "weft: worker " + std::to_string(index_) + " lost its driver mid-run");
            std::abort();
        }
    }
    std::uint64_t since = w.counters.busy_since.get();
    if (since != 0) w.counters.busy_ns.add(static_cast<std::uint64_t>(time_ns()) - since);
    w.counters.busy_since.set(0);
    running_ = false;
    detail::tls_ctx.loop = nullptr;
    m.loop.store(nullptr, std::memory_order_relaxed);
    // release: the next driver's exchange sees everything this one did.
    driver_.store(nullptr, std::memory_order_release);
    return false;
}

std::uintptr_t event_loop::next_local() {
    worker_state& w = *worker_;
    if (++w.tick % detail::maintenance_interval == 0) {
        maintenance();
        // Fairness, every 61 ticks: work injected from outside, then the
        // FIFO (yields, callbacks, timers), get a turn before local tasks.
        if (std::uintptr_t item = rt_->pop_global(*this)) return item;
        if (!ready_.empty()) return ready_.pop_front();
    }
    if (w.runnext != 0) {
        if (w.lifo_streak < detail::max_lifo_streak) {
            ++w.lifo_streak;
            return std::exchange(w.runnext, 0);
        }
        // Two tasks waking each other would never let the rest run: after a
        // few turns a queued item goes first. The newest one: chains of
        // completions in a task tree also pass through runnext, and the
        // oldest item there is the biggest subtree, which would break the
        // depth-first order.
        w.lifo_streak = 0;
        if (std::uintptr_t item = own_queue().pop()) return item;
        if (!ready_.empty()) return ready_.pop_front();
        return std::exchange(w.runnext, 0);
    }
    w.lifo_streak = 0;
    if (std::uintptr_t item = own_queue().pop()) return item;
    if (!ready_.empty()) return ready_.pop_front();
    return 0;
}

std::uintptr_t event_loop::find_work() {
    worker_state& w = *worker_;
    while (!rt_->stopping()) {
        if (rt_->cancel_round() != w.cancel_round_seen.load(std::memory_order_relaxed)) {
            rt_->cancel_leftovers(*this);
        }
        if (std::uintptr_t item = rt_->pop_global(*this)) return item;
        drop_cancelled_timers();
        bool io = poller_->registered() > 1 && poller_->wait(0) > 0;
        if (collect_due_timers() > 0 || io) {
            if (std::uintptr_t item = next_local()) return item;
        }
        drain_unlinks();
        if (!w.searching) w.searching = rt_->idle().try_start_searching();
        if (w.searching) {
            if (std::uintptr_t item = steal_work()) return item;
        }
        if (std::uintptr_t item = rt_->pop_global(*this)) return item;
        if (w.searching && w.search_rounds < detail::search_rounds_before_park) {
            ++w.search_rounds;
            for (unsigned i = 0; i < detail::pauses_per_search_round; ++i)
                __builtin_ia32_pause();
            continue;
        }
        w.search_rounds = 0;
        park();
        if (std::uintptr_t item = next_local()) return item;
    }
    return 0;
}

std::uintptr_t event_loop::steal_work() {
    worker_state& w = *worker_;
    unsigned n = rt_->size();
    // xorshift64: a random first victim, so thieves spread out.
    w.rng ^= w.rng << 13;
    w.rng ^= w.rng >> 7;
    w.rng ^= w.rng << 17;
    unsigned start = static_cast<unsigned>(w.rng % n);
    for (unsigned i = 0; i < n; ++i) {
        unsigned v = (start + i) % n;
        if (v == index_) continue;
        w.counters.steal_attempts.add();
        std::uint32_t stolen = 0;
        std::uintptr_t item =
            rt_->worker(v).worker_->local.stealer().steal_into(own_queue(), stolen);
        if (item != 0) {
            w.counters.steal_successes.add();
            w.counters.tasks_stolen.add(stolen);
            if (WEFT_UNLIKELY(detail::trace::enabled()))
                detail::trace::instant("steal", "victim", v, "items", stolen);
            return item;
        }
    }
    return 0;
}

void event_loop::park() {
    worker_state& w = *worker_;
    if (w.runnext != 0 || !w.local.empty() || !ready_.empty()) return;
    drain_unlinks();
    bool last = rt_->idle().park(index_, w.searching);
    w.searching = false;
    if (last) rt_->notify_if_work_pending();

    std::uint64_t now = static_cast<std::uint64_t>(time_ns());
    std::uint64_t since = w.counters.busy_since.get();
    if (since != 0) w.counters.busy_ns.add(now - since);
    w.counters.busy_since.set(0);
    w.counters.parks.add();
    if (WEFT_UNLIKELY(detail::trace::enabled())) detail::trace::instant("park", "loop", index_);

    for (;;) {
        if (rt_->stopping() ||
            rt_->cancel_round() != w.cancel_round_seen.load(std::memory_order_relaxed)) {
            break;
        }
        std::int64_t timeout = next_timer_timeout();
        if (rt_->cancel_round() > 0) {
            // Shutting down: wake now and then to hand back finished tasks.
            constexpr std::int64_t ms = 1'000'000;
            if (timeout < 0 || timeout > ms) timeout = ms;
            drain_unlinks();
        }
        // Idle: this thread's free frames go back to the pool's depot, and
        // the depot returns what it has held unused (frame_allocator.hpp).
        timeout = detail::pool_idle(timeout);
        ready_.shrink_if_empty(detail::ready_shrink_above);
        poller_->wait(timeout);  // our eventfd, a timer, or I/O ends it
        drop_cancelled_timers();
        collect_due_timers();
        if (w.runnext != 0 || !w.local.empty() || !ready_.empty()) break;
        if (!rt_->idle().is_parked(index_)) break;  // notified
    }
    // Notified: the notifier counted us as a searcher. Woken otherwise: we
    // take ourselves off the list and are not searching (idle.hpp, rule 3).
    w.searching = rt_->idle().unpark(index_);
    w.counters.unparks.add();
    if (WEFT_UNLIKELY(detail::trace::enabled())) detail::trace::instant("unpark", "loop", index_);
    w.counters.busy_since.set(static_cast<std::uint64_t>(time_ns()));
}

void event_loop::maintenance() {
    worker_state& w = *worker_;
    drain_unlinks();
    drop_cancelled_timers();
    collect_due_timers();
    if (poller_->registered() > 1) poller_->wait(0);
    w.counters.local_queue_depth.set(w.local.size() + ready_.size());
    // The FIFO cannot be stolen from: when it has piled up while some worker
    // is parked, give half of it to the global queue, where others take it.
    constexpr std::size_t share_above = 32;
    if (ready_.size() > share_above && rt_->idle().unparked_now() < rt_->size()) {
        std::uintptr_t batch[detail::shared_queue_batch];
        std::size_t n = 0;
        std::size_t give = std::min(ready_.size() / 2, detail::shared_queue_batch);
        while (n < give)
            batch[n++] = ready_.pop_front();
        rt_->inject_batch(batch, n);
    }
    if (rt_->cancel_round() != w.cancel_round_seen.load(std::memory_order_relaxed)) {
        rt_->cancel_leftovers(*this);
    }
}

void event_loop::drain_links() noexcept {
    // acquire: pairs with the release CAS in register_task.
    task_record* born = worker_->link_stack.exchange(nullptr, std::memory_order_acquire);
    while (born != nullptr) {
        task_record* next = born->reg_next;
        link_locally(born);
        born = next;
    }
}

void event_loop::drain_unlinks() noexcept {
    // acquire: pairs with the release CAS of unregister_task on other workers.
    task_record* done = worker_->unlink_stack.exchange(nullptr, std::memory_order_acquire);
    // Tasks created here by a machine that had lost this loop. Taken after
    // the finished ones: a task in `done` was linked before it finished, so
    // its link is in this batch or an earlier one.
    drain_links();
    while (done != nullptr) {
        task_record* next = done->unlink_next();
        unlink_locally(done);
        done->release();  // the running reference, which the finisher left to us
        done = next;
    }
}

}  // namespace weft
