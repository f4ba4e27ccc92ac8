// The Go-mode runtime: workers and their threads, the global queue, waking
// parked workers, and the shutdown that mirrors asyncio.run's.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>

#include <weft/detail/completion_queue.hpp>
#include <weft/detail/go_worker.hpp>
#include <weft/detail/inject_queue.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/detail/task_record.hpp>

#include "machine.hpp"
#include "trace.hpp"

namespace weft::detail {

struct runtime_core::global_queue {
    // Work from outside threads and overflow from full local queues.
    inject_queue items;
};

runtime_core::runtime_core(unsigned workers, blocking_options blocking, io_backend io)
    : blocking_(blocking), global_(std::make_unique<global_queue>()), idle_(workers) {
    init_asymmetric_fences();     // before any thread of ours runs
    io = resolve_io_backend(io);  // once: one probe, one log line
    workers_.reserve(workers);
    for (unsigned i = 0; i < workers; ++i) {
        workers_.push_back(std::make_unique<event_loop>(worker_key{}, this, i, &settings_, io));
    }
}

runtime_core::~runtime_core() {
    // A thread outside the runtime that woke a task may still be injecting
    // and notifying (inject, notify_parked, a worker's wake_thread) though
    // the task has run: wait for it before anything is torn down.
    for (auto& w : workers_)
        w->wait_remote_pushes();
    if (started()) stop_loops();  // run() left by an exception
    // Every machine is spare now, or still blocked in the step of a task
    // whose loop it lost: that one finishes its step first.
    std::vector<std::unique_ptr<machine>> all;
    {
        std::lock_guard lock(machines_mutex_);
        all.swap(machines_);
        spares_.clear();
    }
    for (auto& m : all) {
        {
            std::lock_guard lock(m->mutex);
            m->exit = true;
        }
        m->cv.notify_one();
    }
    for (auto& m : all)
        m->thread.join();
    all.clear();
    run_shutdown_callbacks(settings_);  // no worker runs now (see add_shutdown_callback)
    for (auto& w : workers_)
        w->close();
    // A ring's last completions may end an fd's last operation, which then
    // deregisters the fd from the poller of whichever loop registered it:
    // hear every ring's completions before any loop (and poller) goes.
    for (auto& w : workers_) {
        if (completion_queue* ring = completions_of(w->poller())) ring->finish();
    }
    std::uintptr_t item;
    while (global_->items.pop_batch(&item, 1) != 0) {
        if (item & 1) reinterpret_cast<callback_base*>(item & ~std::uintptr_t{1})->release();
    }
    for (task_record* t : leftovers_)
        t->release();
}

void runtime_core::inject(std::uintptr_t item) {
    global_->items.push(item);
    if (WEFT_UNLIKELY(trace::enabled())) trace::instant("inject", "items", 1);
    // seq_cst fence: the producer's half of the handshake in idle.hpp rule 5
    // (publish the work, then look at the idle counts).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    notify_parked();
}

void runtime_core::inject_batch(const std::uintptr_t* items, std::size_t n) {
    global_->items.push_batch(items, n);
    if (WEFT_UNLIKELY(trace::enabled()))
        trace::instant("inject", "items", static_cast<std::int64_t>(n));
    std::atomic_thread_fence(std::memory_order_seq_cst);
    notify_parked();
}

bool runtime_core::global_empty() const noexcept {
    return global_->items.size_approx() == 0;
}

std::uintptr_t runtime_core::pop_global(go_worker& w) {
    if (global_->items.size_approx() == 0) return 0;
    // Take a fair share (Go's globrunqget: len/workers + 1), and no more than
    // half of what the local queue has room for.
    std::size_t room = local_queue_capacity - w.local.size();
    std::size_t share = global_->items.size_approx() / size() + 1;
    std::size_t want = std::min({share, room / 2 + 1, shared_queue_batch});
    std::uintptr_t batch[shared_queue_batch];
    std::size_t got = global_->items.pop_batch(batch, want);
    if (got == 0) return 0;
    w.counters.injection_pulls.add(got);
    for (std::size_t i = 1; i < got; ++i)
        w.push_local(batch[i]);
    return batch[0];
}

void runtime_core::notify_parked() {
    int w = idle_.worker_to_notify();
    if (w >= 0) workers_[static_cast<unsigned>(w)]->wake_thread();
}

void runtime_core::notify_if_work_pending() {
    // seq_cst fence: the parker's half of the handshake (idle.hpp, rule 5):
    // the counts were updated by park(); now look at the queues.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    for (auto& w : workers_) {
        if (!w->worker()->local.empty()) {
            notify_parked();
            return;
        }
    }
    if (!global_empty()) notify_parked();
}

void runtime_core::wake_all() noexcept {
    for (auto& w : workers_)
        w->wake_thread();
}

std::size_t runtime_core::live_tasks() const noexcept {
    std::size_t n = 0;
    for (const auto& w : workers_) {
        const go_worker* s = w->worker();
        n += s->live.load(std::memory_order_relaxed);
        // Not yet handed back, or created by a thread that had lost the loop.
        if (s->unlink_stack.load(std::memory_order_relaxed) != nullptr) ++n;
        if (s->link_stack.load(std::memory_order_relaxed) != nullptr) ++n;
    }
    return n;
}

void runtime_core::cancel_leftovers(event_loop& w) {
    go_worker& s = *w.worker();
    unsigned round = cancel_round();
    if (s.cancel_round_seen.load(std::memory_order_relaxed) == round) return;
    std::vector<task_record*> pending;
    for (task_record* t : w.live_tasks()) {
        if (!t->done()) pending.push_back(t);
    }
    for (task_record* t : pending)
        t->add_ref();
    {
        std::lock_guard lock(leftovers_mutex_);
        leftovers_.insert(leftovers_.end(), pending.begin(), pending.end());
    }
    for (task_record* t : pending)
        t->request_cancel(nullptr);
    // release: the coordinator's acquire load sees the leftovers recorded.
    s.cancel_round_seen.store(round, std::memory_order_release);
}

void runtime_core::run(task_record* main, const std::atomic<int>* interrupts,
                       const std::function<void(int)>& on_interrupt) {
    // The calling thread coordinates: it starts the workers, waits for the
    // main task, then stops them. It is not a worker itself, so that exactly
    // `size()` threads run loops.
    struct main_watch : done_node {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
    } watch;
    watch.on_done = [](done_node* n, future_core*) noexcept {
        auto* self = static_cast<main_watch*>(n);
        std::lock_guard lock(self->m);
        self->done = true;
        self->cv.notify_one();
    };
    if (!main->add_done_node(&watch)) watch.done = true;

    start_loops();
    {
        std::unique_lock lock(watch.m);
        int seen = 0;  // the runner resets the count before it starts us
        while (!watch.done) {
            if (interrupts == nullptr) {
                watch.cv.wait(lock);
                continue;
            }
            watch.cv.wait_for(lock, std::chrono::milliseconds(50));
            int now = interrupts->load(std::memory_order_relaxed);
            if (now != seen) {
                seen = now;
                lock.unlock();
                on_interrupt(now);  // cancels the main task: no runtime lock held here
                lock.lock();
            }
        }
    }
    stop_loops();
}

void runtime_core::shutdown(std::chrono::steady_clock::time_point deadline,
                            const std::function<void()>& at_deadline) {
    if (live_tasks() == 0) return;
    start_loops();
    if (!cancel_pending(deadline) && at_deadline) at_deadline();
    stop_loops();
    report_leftovers();
}

bool runtime_core::cancel_pending(std::chrono::steady_clock::time_point deadline) {
    // Cancel the leftovers and wait for their cleanup; tasks that their
    // cleanup starts are cancelled in a further round.
    constexpr unsigned max_rounds = 8;
    unsigned first = cancel_round_.load(std::memory_order_relaxed) + 1;
    for (unsigned round = first; round < first + max_rounds && live_tasks() != 0; ++round) {
        cancel_round_.store(round, std::memory_order_release);
        wake_all();
        // Every worker must have seen this round before "nothing left" counts.
        for (;;) {
            bool all_seen = true;
            for (auto& w : workers_) {
                all_seen = all_seen &&
                           w->worker()->cancel_round_seen.load(std::memory_order_acquire) >= round;
            }
            if (std::chrono::steady_clock::now() >= deadline) return live_tasks() == 0;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            if (all_seen && live_tasks() == 0) break;
            if (all_seen && round + 1 < first + max_rounds) {
                // Leftovers from this round still running, or new ones: wait
                // for the first, start another round for the second.
                bool pending_old = false;
                {
                    std::lock_guard lock(leftovers_mutex_);
                    for (task_record* t : leftovers_)
                        pending_old = pending_old || !t->done();
                }
                if (!pending_old) break;
            }
        }
    }
    return live_tasks() == 0;
}

bool runtime_core::thread_in_step() {
    std::lock_guard lock(machines_mutex_);
    for (auto& m : machines_) {
        // acquire: pairs with begin_step's release.
        if (m->step.load(std::memory_order_acquire) & 1) return true;
    }
    return false;
}

void runtime_core::report_leftovers() {
    // As asyncio.run: failures of the cancelled leftovers are reported.
    std::vector<task_record*> left;
    {
        std::lock_guard lock(leftovers_mutex_);
        left.swap(leftovers_);
    }
    event_loop& loop = main_loop();
    for (task_record* t : left) {
        std::uint32_t fl = t->flags();
        if ((fl & f_finished) && (fl & f_has_exception)) {
            t->mark_retrieved();
            loop.call_exception_handler(
                exception_context{"unhandled exception during weft::run() shutdown",
                                  t->exception_unchecked(), t->name()});
        }
        t->release();
    }
}

std::vector<worker_stats> runtime_core::stats() const {
    std::vector<worker_stats> out;
    std::uint64_t now = static_cast<std::uint64_t>(event_loop::time_ns());
    for (const auto& wl : workers_) {
        const worker_counters& c = wl->worker()->counters;
        worker_stats s;
        s.tasks_run = c.tasks_run.get();
        s.steal_attempts = c.steal_attempts.get();
        s.steal_successes = c.steal_successes.get();
        s.tasks_stolen = c.tasks_stolen.get();
        s.parks = c.parks.get();
        s.unparks = c.unparks.get();
        s.injection_pulls = c.injection_pulls.get();
        s.overflows = c.overflows.get();
        s.local_queue_depth = c.local_queue_depth.get();
        s.busy_ns = c.busy_ns.get();
        s.handoffs = c.handoffs.get();
        s.joins_in_place = c.joins_in_place.get();
        std::uint64_t since = c.busy_since.get();
        if (since != 0 && now > since) s.busy_ns += now - since;  // the current busy stretch
        out.push_back(s);
    }
    return out;
}

std::string runtime_core::stats_report() const {
    std::string out = "weft: runtime stats (" + std::to_string(size()) + " workers)\n";
    char line[256];
    std::snprintf(line, sizeof line, "%6s %12s %10s %10s %10s %8s %8s %10s %9s %10s %8s %12s\n",
                  "worker", "tasks_run", "steal_try", "steal_ok", "stolen", "parks", "unparks",
                  "inj_pulls", "overflow", "busy_ms", "handoff", "in_place");
    out += line;
    auto all = stats();
    for (std::size_t i = 0; i < all.size(); ++i) {
        const worker_stats& s = all[i];
        std::snprintf(
            line, sizeof line,
            "%6zu %12llu %10llu %10llu %10llu %8llu %8llu %10llu %9llu %10.1f %8llu %12llu\n", i,
            static_cast<unsigned long long>(s.tasks_run),
            static_cast<unsigned long long>(s.steal_attempts),
            static_cast<unsigned long long>(s.steal_successes),
            static_cast<unsigned long long>(s.tasks_stolen),
            static_cast<unsigned long long>(s.parks), static_cast<unsigned long long>(s.unparks),
            static_cast<unsigned long long>(s.injection_pulls),
            static_cast<unsigned long long>(s.overflows), static_cast<double>(s.busy_ns) / 1e6,
            static_cast<unsigned long long>(s.handoffs),
            static_cast<unsigned long long>(s.joins_in_place));
        out += line;
    }
    return out;
}

}  // namespace weft::detail
