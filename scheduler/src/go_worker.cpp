// detail::go_worker (go_worker.hpp): a worker of the Go-mode runtime, its
// scheduling loop (Go's schedule() and findrunnable(), one function each),
// stealing, and parking.
//
// Where a worker looks for its next item, in order:
//   1. every 61st tick: maintenance (timers, I/O, tidying), then the global
//      queue, so that injected work is not starved by local work;
//   2. the runnext slot (the task it just spawned or woke), at most 3 times
//      in a row, then the oldest local item gets a turn;
//   3. its local queue, newest first (depth-first for fork-join code);
//   4. the global queue;
//   5. its timers and poller, without waiting (the poller less often as a
//      search goes on: find_work);
//   6. the local queues of the others, as a searcher (idle.hpp, rule 1);
//   7. nothing: it parks in its poller until woken, a timer or I/O.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <weft/detail/assert.hpp>
#include <weft/detail/frame_allocator.hpp>
#include <weft/detail/go_worker.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>
#include <weft/log.hpp>

#include "machine.hpp"
#include "trace.hpp"

namespace weft::detail {

// ---- the entry points event_loop.hpp declares

void go_worker_push_wake(go_worker& w, std::uintptr_t item) {
    w.push_wake(item);
}
void go_worker_push_ready(go_worker& w, std::uintptr_t item) {
    w.push_ready(item);
}
std::size_t go_worker_ready_count(const go_worker& w) noexcept {
    return w.ready_count();
}

bool go_worker_join_inline(task_record& child) {
    thread_context& ctx = tls_ctx;
    event_loop* loop = ctx.loop;
    go_worker* w = loop != nullptr ? loop->worker() : nullptr;
    // asyncio mode keeps asyncio's order: the child runs at its turn.
    if (w == nullptr || !w->queued_near_top(event_loop::tag_task(&child))) return false;
    // The child and what was spawned after it run here, newest first, as
    // the worker would run them once the joiner suspended. Each takes some
    // native stack and a unit of the joiner's budget, so that a deep chain
    // of joins neither overflows the stack nor keeps the worker from its
    // maintenance (timers, I/O, the global queue) for longer than a step
    // may.
    bool ran = false;
    while (!child.done()) {
        if (static_cast<char*>(__builtin_frame_address(0)) - join_inline_stack_reserve <
                ctx.stack_limit ||
            ctx.budget <= 1) {
            break;
        }
        task_record* next = w->take_unstarted();
        if (next == nullptr) break;  // a thief took the child, or a wake-up is newer
        --ctx.budget;
        w->counters.tasks_run.add();
        w->counters.joins_in_place.add();
        next->run_first_step_nested();
        ran = true;
        if (next == &child) break;
    }
    return ran;
}

go_worker::go_worker(event_loop& loop, runtime_core& rt, unsigned index) noexcept
    : loop_(loop), rt_(rt), index_(index), rng_(0x9e3779b97f4a7c15ull * (index + 1)) {}

void go_worker::push_wake(std::uintptr_t item) {
    owner_guard guard(*this);
    if (WEFT_UNLIKELY(!guard.owned())) return loop_.push_remote(item);
    std::uintptr_t old = std::exchange(runnext_, item);
    if (old != 0) push_local(old);
}

void go_worker::push_ready(std::uintptr_t item) {
    owner_guard guard(*this);
    if (WEFT_UNLIKELY(!guard.owned())) return loop_.push_remote(item);
    fifo_.push_back(item);
}

std::size_t go_worker::ready_count() const noexcept {
    owner_guard guard(*this);
    return guard.owned() ? fifo_.size() : 0;
}

bool go_worker::queued_near_top(std::uintptr_t item) noexcept {
    owner_guard guard(*this);
    if (WEFT_UNLIKELY(!guard.owned())) return false;
    if (runnext_ == item) return true;
    auto q = own_queue();
    for (std::uint32_t depth = 0; depth < join_inline_window; ++depth) {
        std::uintptr_t seen = q.peek(depth);
        if (seen == item) return true;
        if (seen == 0) return false;
    }
    return false;
}

task_record* go_worker::take_unstarted() noexcept {
    owner_guard guard(*this);
    if (WEFT_UNLIKELY(!guard.owned())) return nullptr;
    // Items here are this worker's: not running anywhere, so their state
    // may be read.
    auto unstarted = [](std::uintptr_t item) {
        return (item & 1) == 0 && !reinterpret_cast<task_record*>(item)->started();
    };
    if (runnext_ != 0) {
        if (!unstarted(runnext_)) return nullptr;
        return reinterpret_cast<task_record*>(std::exchange(runnext_, 0));
    }
    auto q = own_queue();
    std::uintptr_t top = q.pop();
    if (top == 0) return nullptr;
    if (unstarted(top)) return reinterpret_cast<task_record*>(top);
    // A wake-up or a callback: it keeps its place. Only this thread
    // pushes, and it just made the room.
    [[maybe_unused]] bool pushed = q.try_push(top);
    WEFT_ASSERT(pushed, "an item popped by the owner fits back");
    return nullptr;
}

work_queue<local_queue_capacity>::owner_handle go_worker::own_queue() noexcept {
    // The owner: the machine driving this loop, or, while no runtime thread
    // runs, the thread setting up or tearing down (both null). driver, not
    // owner_: a retaker sets owner_ to its spare for a moment even when the
    // step it saw has ended and the driver carries on (handoff.hpp, steps
    // 1 and 2), while driver changes only once the loop is taken.
    WEFT_ASSERT(driver.load(std::memory_order_relaxed) == tls_ctx.machine,
                "only the thread that drives a worker's loop pushes and pops its deque");
    return local.owner();
}

void go_worker::push_local(std::uintptr_t item) {
    auto q = own_queue();
    while (!q.try_push(item)) {
        // Full: send the older half and this item to the global queue (Go's
        // runqputslow), where any worker can take them.
        std::uintptr_t batch[local_queue_capacity / 2 + 1];
        std::size_t n = 0;
        if (q.take_half_for_overflow([&](std::uintptr_t v) { batch[n++] = v; })) {
            batch[n++] = item;
            counters.overflows.add();
            rt_.inject_batch(batch, n);
            return;
        }
        // A thief is copying out of the queue; it is about to make room.
    }
    rt_.notify_parked();  // one atomic load unless someone should wake
}

bool go_worker::run(machine& m) {
    // Two threads driving one loop would corrupt it silently: check, cheaply.
    if (machine* other = driver.exchange(&m, std::memory_order_acq_rel)) {
        weft::log(weft::log_level::critical,
                  "weft: worker " + std::to_string(index_) + " driven by machines " +
                      std::to_string(other->id) + " and " + std::to_string(m.id) + " at once");
        std::abort();
    }
    m.loop.store(&loop_, std::memory_order_relaxed);
    loop_.set_worker_running(true);
    counters.busy_since.set(static_cast<std::uint64_t>(event_loop::time_ns()));
    while (!rt_.stopping()) {
        std::uintptr_t item = next_local();
        if (item == 0 && (item = find_work()) == 0) continue;
        if (searching_) {
            // Found work: stop searching; if we were the last searcher and
            // more work is in sight, get another worker looking (idle.hpp,
            // rule 4). Work that this item makes later notifies by rule 2,
            // so a lone item (a submission from outside) wakes nobody.
            searching_ = false;
            // Found late in the search: a shorter one would have parked.
            if (search_rounds_ * 2 >= search_budget_) lengthen_search();
            search_rounds_ = 0;
            if (rt_.idle().stop_searching()) rt_.notify_if_work_pending();
        }
        counters.tasks_run.add();
        m.begin_step();
        loop_.run_item(item);
        if (WEFT_UNLIKELY(m.end_step())) {
            // Blocked in that step, the loop went to another machine, which
            // now drives it: not one more access to it from here.
            m.loop.store(nullptr, std::memory_order_relaxed);
            tls_ctx.loop = nullptr;  // not set_worker_running: the loop is not ours
            return true;
        }
        if (WEFT_UNLIKELY(driver.load(std::memory_order_relaxed) != &m)) {
            weft::log(weft::log_level::critical,
                      "weft: worker " + std::to_string(index_) + " lost its driver mid-run");
            std::abort();
        }
    }
    std::uint64_t since = counters.busy_since.get();
    if (since != 0) counters.busy_ns.add(static_cast<std::uint64_t>(event_loop::time_ns()) - since);
    counters.busy_since.set(0);
    loop_.set_worker_running(false);
    m.loop.store(nullptr, std::memory_order_relaxed);
    // release: the next driver's exchange sees everything this one did.
    driver.store(nullptr, std::memory_order_release);
    return false;
}

std::uintptr_t go_worker::next_local() {
    if (++tick_ % maintenance_interval == 0) {
        maintenance();
        // Fairness, every 61 ticks: work injected from outside, then the
        // FIFO (yields, callbacks, timers), get a turn before local tasks.
        if (std::uintptr_t item = rt_.pop_global(*this)) return item;
        if (!fifo_.empty()) return fifo_.pop_front();
    }
    if (runnext_ != 0) {
        if (lifo_streak_ < max_lifo_streak) {
            ++lifo_streak_;
            return std::exchange(runnext_, 0);
        }
        // Two tasks waking each other would never let the rest run: after a
        // few turns a queued item goes first. The newest one: chains of
        // completions in a task tree also pass through runnext, and the
        // oldest item there is the biggest subtree, which would break the
        // depth-first order.
        lifo_streak_ = 0;
        if (std::uintptr_t item = own_queue().pop()) return item;
        if (!fifo_.empty()) return fifo_.pop_front();
        return std::exchange(runnext_, 0);
    }
    lifo_streak_ = 0;
    if (std::uintptr_t item = own_queue().pop()) return item;
    if (!fifo_.empty()) return fifo_.pop_front();
    return 0;
}

std::uintptr_t go_worker::find_work() {
    while (!rt_.stopping()) {
        if (rt_.cancel_round() != cancel_round_seen.load(std::memory_order_relaxed)) {
            rt_.cancel_leftovers(loop_);
        }
        if (std::uintptr_t item = rt_.pop_global(*this)) return item;
        loop_.drop_cancelled_timers();
        // The poll is a system call (about 1 us on a virtual machine), the
        // rest of a round a few loads: poll in rounds 0, 1, 2, 4, 8, 16 and
        // 32 only. Readiness that comes soon after the search began is seen
        // soon; a long search costs 7 polls, not 64.
        bool poll_now = (search_rounds_ & (search_rounds_ - 1)) == 0;
        bool io = poll_now && loop_.poller().registered() > 1 && loop_.poller().wait(0) > 0;
        if (loop_.collect_due_timers() > 0 || io) {
            if (std::uintptr_t item = next_local()) return item;
        }
        drain_unlinks();
        if (!searching_) searching_ = rt_.idle().try_start_searching();
        if (searching_) {
            if (std::uintptr_t item = steal_work()) return item;
        }
        if (std::uintptr_t item = rt_.pop_global(*this)) return item;
        if (searching_ && search_rounds_ < search_budget_) {
            ++search_rounds_;
            for (unsigned i = 0; i < pauses_per_search_round; ++i)
                __builtin_ia32_pause();
            continue;
        }
        // A whole search found nothing: the next one is shorter.
        if (searching_ && search_budget_ > min_search_rounds) search_budget_ /= 2;
        search_rounds_ = 0;
        park();
        if (std::uintptr_t item = next_local()) return item;
    }
    return 0;
}

std::uintptr_t go_worker::steal_work() {
    unsigned n = rt_.size();
    // xorshift64: a random first victim, so thieves spread out.
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    unsigned start = static_cast<unsigned>(rng_ % n);
    for (unsigned i = 0; i < n; ++i) {
        unsigned v = (start + i) % n;
        if (v == index_) continue;
        counters.steal_attempts.add();
        std::uint32_t stolen = 0;
        std::uintptr_t item =
            rt_.worker(v).worker()->local.stealer().steal_into(own_queue(), stolen);
        if (item != 0) {
            counters.steal_successes.add();
            counters.tasks_stolen.add(stolen);
            if (WEFT_UNLIKELY(trace::enabled()))
                trace::instant("steal", "victim", v, "items", stolen);
            return item;
        }
    }
    return 0;
}

void go_worker::park() {
    if (runnext_ != 0 || !local.empty() || !fifo_.empty()) return;
    drain_unlinks();
    bool last = rt_.idle().park(index_, searching_);
    searching_ = false;
    if (last) rt_.notify_if_work_pending();

    std::uint64_t now = static_cast<std::uint64_t>(event_loop::time_ns());
    std::uint64_t since = counters.busy_since.get();
    if (since != 0) counters.busy_ns.add(now - since);
    counters.busy_since.set(0);
    counters.parks.add();
    if (WEFT_UNLIKELY(trace::enabled())) trace::instant("park", "loop", index_);

    for (;;) {
        if (rt_.stopping() ||
            rt_.cancel_round() != cancel_round_seen.load(std::memory_order_relaxed)) {
            break;
        }
        std::int64_t timeout = loop_.next_timer_timeout();
        if (rt_.cancel_round() > 0) {
            // Shutting down: wake now and then to hand back finished tasks.
            constexpr std::int64_t ms = 1'000'000;
            if (timeout < 0 || timeout > ms) timeout = ms;
            drain_unlinks();
        }
        // Idle: this thread's free frames go back to the pool's depot, and
        // the depot returns what it has held unused (frame_allocator.hpp).
        timeout = pool_idle(timeout);
        fifo_.shrink_if_empty(ready_shrink_above);
        loop_.poller().wait(timeout);  // our eventfd, a timer, or I/O ends it
        loop_.drop_cancelled_timers();
        loop_.collect_due_timers();
        if (runnext_ != 0 || !local.empty() || !fifo_.empty()) break;
        if (!rt_.idle().is_parked(index_)) break;  // notified
    }
    // Notified: the notifier counted us as a searcher. Woken otherwise: we
    // take ourselves off the list and are not searching (idle.hpp, rule 3).
    searching_ = rt_.idle().unpark(index_);
    counters.unparks.add();
    if (WEFT_UNLIKELY(trace::enabled())) trace::instant("unpark", "loop", index_);
    std::uint64_t woke = static_cast<std::uint64_t>(event_loop::time_ns());
    // Work came soon after we parked: searching on would have found it.
    if (woke - now < quick_wake_ns) lengthen_search();
    counters.busy_since.set(woke);
}

void go_worker::lengthen_search() noexcept {
    search_budget_ = std::min(search_budget_ * 2, search_rounds_before_park);
}

void go_worker::maintenance() {
    drain_unlinks();
    loop_.drop_cancelled_timers();
    loop_.collect_due_timers();
    if (loop_.poller().registered() > 1) loop_.poller().wait(0);
    counters.local_queue_depth.set(local.size() + fifo_.size());
    // The FIFO cannot be stolen from: when it has piled up while some worker
    // is parked, give half of it to the global queue, where others take it.
    constexpr std::size_t share_above = 32;
    if (fifo_.size() > share_above && rt_.idle().unparked_now() < rt_.size()) {
        std::uintptr_t batch[shared_queue_batch];
        std::size_t n = 0;
        std::size_t give = std::min(fifo_.size() / 2, shared_queue_batch);
        while (n < give)
            batch[n++] = fifo_.pop_front();
        rt_.inject_batch(batch, n);
    }
    if (rt_.cancel_round() != cancel_round_seen.load(std::memory_order_relaxed)) {
        rt_.cancel_leftovers(loop_);
    }
}

void go_worker::drain_links() noexcept {
    // acquire: pairs with the release CAS in register_task.
    task_record* born = link_stack.exchange(nullptr, std::memory_order_acquire);
    while (born != nullptr) {
        task_record* next = born->reg_next;
        loop_.link_locally(born);
        born = next;
    }
}

void go_worker::drain_unlinks() noexcept {
    // acquire: pairs with the release CAS of unregister_task on other workers.
    task_record* done = unlink_stack.exchange(nullptr, std::memory_order_acquire);
    // Tasks created here by a machine that had lost this loop. Taken after
    // the finished ones: a task in `done` was linked before it finished, so
    // its link is in this batch or an earlier one.
    drain_links();
    while (done != nullptr) {
        task_record* next = done->unlink_next();
        loop_.unlink_locally(done);
        done->release();  // the running reference, which the finisher left to us
        done = next;
    }
}

}  // namespace weft::detail
