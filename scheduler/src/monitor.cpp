// Machines and the monitor: the threads that drive worker loops, and Go's
// sysmon, which hands the loop of a thread blocked in a task step to a spare
// thread. The protocol is described in machine.hpp.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft/blocking.hpp>
#include <weft/detail/assert.hpp>
#include <weft/detail/go_worker.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/detail/task_record.hpp>

#include "machine.hpp"
#include "trace.hpp"

namespace weft::detail {

bool g_asymmetric_fences = false;

namespace {

long membarrier(int cmd) noexcept {
    return ::syscall(__NR_membarrier, cmd, 0, 0);
}

bool register_membarrier() noexcept {
    long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
    return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

}  // namespace

void init_asymmetric_fences() noexcept {
    // A function-local static: thread-safe, once per process, and finished
    // before the first runtime starts a thread, so every thread that reads
    // the flag sees its final value.
    static const bool ok = [] {
        g_asymmetric_fences = register_membarrier();
        return g_asymmetric_fences;
    }();
    (void)ok;
}

void heavy_fence() noexcept {
    if (g_asymmetric_fences && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
    // Fallback: light_fence is a full fence on the other side too.
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

// ---- machines

machine* runtime_core::acquire_spare() {
    std::lock_guard lock(machines_mutex_);
    return acquire_spare_locked();
}

machine* runtime_core::acquire_spare_locked() {
    if (!spares_.empty()) {
        machine* m = spares_.back();
        spares_.pop_back();
        return m;
    }
    if (machines_.size() >= size() + blocking_.max_blocking_threads) return nullptr;
    auto m = std::make_unique<machine>(*this, static_cast<unsigned>(machines_.size()));
    machine* raw = m.get();
    raw->thread = std::thread(&runtime_core::machine_main, this, std::ref(*raw));
    machines_.push_back(std::move(m));
    return raw;
}

void runtime_core::release_spare(machine* m) {
    std::lock_guard lock(machines_mutex_);
    spares_.push_back(m);
}

std::size_t runtime_core::machine_count() {
    std::lock_guard lock(machines_mutex_);
    return machines_.size();
}

bool runtime_core::blocked_step_running() {
    std::lock_guard lock(machines_mutex_);
    for (const auto& m : machines_) {
        // acquire: pairs with end_step's release; an even value means that
        // step's writes are visible here.
        if (!(m->step.load(std::memory_order_acquire) & 1)) continue;
        // In a step: a loop's driver (stopped by the dump, or the dumper)
        // unless its loop was taken. relaxed: a claim still being decided
        // counts as taken, which only makes the dump more careful.
        if (m->retake.load(std::memory_order_relaxed) != retake_none) return true;
    }
    return false;
}

void runtime_core::assign(machine& m, event_loop& loop) {
    {
        std::lock_guard lock(m.mutex);
        m.next = &loop;
    }
    m.cv.notify_one();
}

void runtime_core::machine_main(machine& m) {
    begin_runtime_thread(thread_setup_, m.id);
    tls_ctx.machine = &m;
    m.ctx.store(&tls_ctx, std::memory_order_release);
    if (trace::enabled())
        trace::name_this_thread((m.id < size() ? "worker thread " : "spare thread ") +
                                std::to_string(m.id));
    for (;;) {
        event_loop* loop;
        {
            std::unique_lock lock(m.mutex);
            m.cv.wait(lock, [&] { return m.next != nullptr || m.exit; });
            if (m.next == nullptr) break;
            loop = std::exchange(m.next, nullptr);
        }
        bool lost = loop->worker()->run(m);
        // Taken: the retaker left its verdict here; no one looks at it until
        // this machine drives a loop again.
        m.retake.store(retake_none, std::memory_order_relaxed);
        std::lock_guard lock(machines_mutex_);
        if (!lost && --loops_running_ == 0) loops_stopped_.notify_all();
        spares_.push_back(&m);
    }
    tls_ctx.machine = nullptr;
    end_runtime_thread(thread_setup_);
}

void runtime_core::start_loops() {
    stop_.store(false, std::memory_order_relaxed);
    started_.store(true, std::memory_order_release);
    // Every worker's machine is taken before the first loop starts: a loop
    // that starts early can hand itself off (weft::blocking) and take a
    // spare, and with the spares counted against max_blocking_threads, a
    // machine taken one worker at a time could then be missing for the
    // last workers. At most max_blocking_threads machines are ever away
    // from a loop (blocked in a step whose loop was handed off), so with
    // every loop stopped, size() machines are always to be had.
    std::vector<machine*> drivers(size());
    {
        std::lock_guard lock(machines_mutex_);
        loops_running_ = size();
        for (machine*& m : drivers) {
            m = acquire_spare_locked();
            WEFT_ASSERT(m != nullptr, "a stopped runtime has a machine for every worker");
        }
    }
    for (unsigned i = 0; i < size(); ++i) {
        workers_[i]->worker()->owner.store(drivers[i], std::memory_order_relaxed);
        assign(*drivers[i], *workers_[i]);
    }
    if (blocking_.threshold.count() > 0) {
        monitor_stop_ = false;
        monitor_ = std::thread(&runtime_core::monitor_main, this);
    }
}

bool runtime_core::stop_loops(std::chrono::steady_clock::time_point deadline) {
    stop_.store(true, std::memory_order_release);
    wake_all();
    {
        std::unique_lock lock(machines_mutex_);
        if (!loops_stopped_.wait_until(lock, deadline, [&] { return loops_running_ == 0; }))
            return false;  // a loop's thread is blocked in a step: the caller gives up on it
    }
    if (monitor_.joinable()) {
        {
            std::lock_guard lock(monitor_mutex_);
            monitor_stop_ = true;
        }
        monitor_cv_.notify_one();
        monitor_.join();
    }
    // No runtime thread drives a loop: the calling thread may set one up
    // (create_task before the next run), as before the first.
    for (auto& w : workers_)
        w->worker()->owner.store(nullptr, std::memory_order_relaxed);
    started_.store(false, std::memory_order_release);
    return true;
}

// ---- hand-off

void runtime_core::retake(machine& m, event_loop& loop, std::uint64_t step) {
    if (!m.try_claim()) return;  // weft::blocking on that thread is handing it off already
    machine* spare = acquire_spare();
    if (spare == nullptr) {
        m.release_claim();
        return;  // at max_blocking_threads: the loop stays blocked
    }
    auto owner_ops = [&m] {
        // acquire: pairs with the thread's release store of `ctx`.
        return std::atomic_ref<int>(m.ctx.load(std::memory_order_acquire)->owner_ops);
    };
    if (!take_blocked_loop(m, &m, m.loop, &loop, loop.worker()->owner, loop.worker()->driver, spare,
                           step, owner_ops)) {
        release_spare(spare);  // the step ended meanwhile: nothing to hand off
        return;
    }
    loop.worker()->counters.handoffs.add();
    if (WEFT_UNLIKELY(trace::enabled()))
        trace::instant("hand-off (blocked step)", "loop", loop.worker_index(), "to_thread",
                       spare->id);
    assign(*spare, loop);
}

bool runtime_core::hand_off(machine& m, event_loop& loop) {
    if (!m.claim_own()) return true;  // the monitor was first
    machine* spare = acquire_spare();
    if (spare == nullptr) {
        m.release_claim();
        return false;
    }
    give_own_loop(m, loop.worker()->owner, loop.worker()->driver, spare);
    loop.worker()->counters.handoffs.add();
    if (WEFT_UNLIKELY(trace::enabled()))
        trace::instant("hand-off (weft::blocking)", "loop", loop.worker_index(), "to_thread",
                       spare->id);
    assign(*spare, loop);
    return true;
}

// ---- the monitor

void runtime_core::monitor_main() {
    using namespace std::chrono;
    if (trace::enabled()) trace::name_this_thread("monitor");
    const std::int64_t threshold = blocking_.threshold.count();
    // Look ten times per threshold (1 ms for the default 10 ms): a blocked
    // step is found between threshold and 1.1 x threshold after it began.
    // While no worker is in a step there is nothing to block; look less,
    // but at most half a threshold apart: a step is timed from its first
    // sighting, so a block is then found by 1.5 x threshold.
    const std::int64_t base = std::clamp<std::int64_t>(threshold / 10, 100'000, 10'000'000);
    const std::int64_t idle_interval = std::max(base, threshold / 2);
    std::int64_t interval = base;
    struct sighting {
        machine* m = nullptr;
        std::uint64_t step = 0;
        std::int64_t since = 0;
        std::int64_t queue_position = 0;  // of the loop's local queue
    };
    std::vector<sighting> seen(size());
    std::unique_lock lock(monitor_mutex_);
    for (;;) {
        monitor_cv_.wait_for(lock, nanoseconds(interval), [&] { return monitor_stop_; });
        if (monitor_stop_) return;
        std::int64_t now = event_loop::time_ns();
        bool any_in_step = false;
        for (unsigned i = 0; i < size(); ++i) {
            event_loop& loop = *workers_[i];
            machine* m = loop.worker()->owner.load(std::memory_order_acquire);
            std::uint64_t step = m ? m->step.load(std::memory_order_acquire) : 0;
            if (!(step & 1)) {
                seen[i].m = nullptr;  // between steps, parked, or not started
                continue;
            }
            any_in_step = true;
            // A step that pushes onto its local queue (a task spawning a
            // million children in one step) is running weft code, not
            // blocked: its time is counted from its last push. Handing its
            // loop off would only send every further spawn through the
            // global queue, one at a time.
            std::int64_t position = loop.worker()->local.owner_position();
            if (seen[i].m != m || seen[i].step != step || seen[i].queue_position != position) {
                seen[i] = sighting{m, step, now, position};
                continue;
            }
            if (now - seen[i].since < threshold) continue;
            // relaxed: a hold that starts just after this look costs one
            // hand-off at worst, which the dump survives.
            if (monitor_holds_.load(std::memory_order_relaxed) > 0) continue;
            seen[i].m = nullptr;
            lock.unlock();  // retake may start a thread
            retake(*m, loop, step);
            lock.lock();
        }
        interval = any_in_step ? base : std::min(interval * 2, idle_interval);
    }
}

// ---- weft::blocking

bool hand_off_current_loop() {
    thread_context& ctx = tls_ctx;
    event_loop* loop = ctx.loop;
    auto* m = static_cast<machine*>(ctx.machine);
    if (m == nullptr || loop == nullptr || loop->runtime() == nullptr ||
        m->loop.load(std::memory_order_relaxed) != loop) {
        return false;
    }
    return loop->runtime()->hand_off(*m, *loop);
}

void warn_blocking_inline(const char* what) noexcept {
    event_loop* loop = tls_ctx.loop;
    if (loop == nullptr || !loop->get_debug()) return;
    try {
        exception_context ctx;
        ctx.message = std::string(what) +
                      (loop->runtime() == nullptr
                           ? " ran inline: single-thread mode has no other thread to hand the "
                             "loop to, so every task waits for it (use run_in_executor, or Go mode)"
                           : " ran inline: max_blocking_threads reached, so this worker's tasks "
                             "wait for it");
        if (task_record* t = tls_ctx.current_task) ctx.task_name = t->name();
        loop->call_exception_handler(ctx);
    } catch (...) {
        // Out of memory for a warning: the call runs all the same.
    }
}

}  // namespace weft::detail
