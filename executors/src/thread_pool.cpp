// thread_pool_executor: a FIFO of jobs drained by "runners", tasks enqueued
// into a oneTBB task_arena whose concurrency is the pool's max_workers.
//
// A runner runs jobs from the queue until it is empty, then stays a little
// while (runner_spin_ns), watching for more, before it gives its TBB thread
// back: a job submitted meanwhile starts within a microsecond, with no trip
// through TBB's scheduler and no thread to wake. submit starts a new runner
// (arena.enqueue) only when there are more queued jobs than idle runners and
// fewer runners than max_workers, so jobs run side by side up to
// max_workers, in submission order.
//
// No job is left behind: submit publishes the job, then looks at `idle` and
// `runners`; a runner that leaves says so (idle, then runners), then looks
// at `queued` again, under the lock. All of these are seq_cst, so whichever
// comes second sees the other (Dekker): a job is always either seen by a
// leaving runner, which stays, or counted by submit, which starts a runner.
//
// `outstanding` counts jobs not finished and `runners` the runners alive;
// shutdown(wait) and the destructor wait for both to be zero. The last
// runner to leave notifies under the lock, its last touch of the pool, so
// the pool may be destroyed as soon as a waiter sees them zero.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <oneapi/tbb/concurrent_queue.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <sched.h>

#include <weft/detail/tsan.hpp>
#include <weft/executors/thread_pool.hpp>
#include <weft/log.hpp>

#include "tbb_enqueue.hpp"

namespace weft {

namespace {

// TBB's worker threads are shared by every arena of the process and capped,
// by default, at one per core minus one: a pool of 6 blocking jobs on 2
// cores would run them one at a time. This raises the cap so that every live
// pool can have all of its workers at once (a global_control is the only
// way; among several, TBB applies the smallest, so one the program sets
// itself still rules).
class tbb_thread_budget {
public:
    static tbb_thread_budget& get() {
        // Never destroyed: pools may outlive static destruction order.
        static auto* budget = new tbb_thread_budget;
        return *budget;
    }
    void add(int workers) {
        std::lock_guard lock(m_);
        reserved_ += workers;
        apply();
    }
    void remove(int workers) {
        std::lock_guard lock(m_);
        reserved_ -= workers;
        apply();
    }

private:
    void apply() {
        // One more than the workers: TBB counts the thread that would
        // otherwise join the arena itself.
        std::size_t want =
            std::max<std::size_t>(hardware_, static_cast<std::size_t>(reserved_) + 1);
        if (want == current_) return;
        // The new control first: while both live the smaller applies, then
        // the old one goes and the new value holds.
        auto next = std::make_unique<tbb::global_control>(
            tbb::global_control::max_allowed_parallelism, want);
        control_ = std::move(next);
        current_ = want;
    }

    std::mutex m_;
    long reserved_ = 0;
    std::size_t hardware_ = std::max(1u, std::thread::hardware_concurrency());
    std::size_t current_ = 0;
    std::unique_ptr<tbb::global_control> control_;
};

}  // namespace

// How long a runner with nothing to do watches the queue before it leaves
// (see the top of the file). The awaiting side polls as long
// (detail::job_spin_ns), so that a short job's round trip needs no thread
// to be woken on either side.
constexpr std::int64_t runner_spin_ns = 50'000;
// Looks at the queue with a pause between them before looks start yielding
// the core (a few microseconds: pause is tens of cycles to ~140).
constexpr unsigned spin_pauses = 32;

struct thread_pool_executor::impl {
    explicit impl(int workers) : max_workers(workers), arena(workers, 0) {
        tbb_thread_budget::get().add(workers);
        arena.initialize();
    }
    ~impl() { tbb_thread_budget::get().remove(max_workers); }

    bool take(detail::job_base*& job) noexcept {
        if (!queue.try_pop(job)) return false;
        // Relaxed: a hint for submit and idle runners; the queue itself
        // hands the job over.
        queued.fetch_sub(1, std::memory_order_relaxed);
        return true;
    }

    void run(detail::job_base* job) noexcept {
        detail::tsan_acquire_item(reinterpret_cast<std::uintptr_t>(job));
        impl* outer = current;
        current = this;
        job->execute(job);
        current = outer;
        // Relaxed: this runner is alive, so the count cannot free the pool
        // (see wait_idle); the lock orders it for the waiter.
        outstanding.fetch_sub(1, std::memory_order_relaxed);
    }

    // The body of a runner.
    void drain() noexcept {
        detail::job_base* job = nullptr;
        for (;;) {
            while (take(job))
                run(job);
            // Nothing queued: watch for more a little while.
            idle.fetch_add(1, std::memory_order_seq_cst);
            bool got = false;
            std::int64_t until = event_loop::time_ns() + runner_spin_ns;
            for (unsigned spins = 0; !shut.load(std::memory_order_relaxed); ++spins) {
                if (queued.load(std::memory_order_relaxed) > 0) {
                    idle.fetch_sub(1, std::memory_order_seq_cst);  // going for it
                    if (take(job)) {
                        got = true;
                        break;
                    }
                    idle.fetch_add(1, std::memory_order_seq_cst);  // someone was faster
                }
                // A few microseconds of pause, then yield the core between
                // looks: on a machine with more runnable threads than cores,
                // the thread we wait for may need it.
                if (spins < spin_pauses) {
                    __builtin_ia32_pause();
                } else {
                    sched_yield();
                }
                if (spins % 16 == 15 && event_loop::time_ns() >= until) break;
            }
            if (got) {
                run(job);
                continue;
            }
            idle.fetch_sub(1, std::memory_order_seq_cst);
            std::lock_guard lock(m);
            runners.fetch_sub(1, std::memory_order_seq_cst);
            if (queued.load(std::memory_order_seq_cst) > 0 &&
                runners.load(std::memory_order_relaxed) < max_workers) {
                runners.fetch_add(1, std::memory_order_relaxed);  // work came: stay
                continue;
            }
            if (runners.load(std::memory_order_relaxed) == 0 &&
                outstanding.load(std::memory_order_relaxed) == 0) {
                idle_cv.notify_all();
            }
            return;  // the lock's release is our last touch of the pool
        }
    }

    static void start_runner(void* self) noexcept {
        detail::tsan_acquire_item(reinterpret_cast<std::uintptr_t>(self));
        static_cast<impl*>(self)->drain();
    }

    // After pushing a job: get a runner for it if none is going to look.
    void ensure_runner() {
        long q = queued.fetch_add(1, std::memory_order_seq_cst) + 1;
        if (idle.load(std::memory_order_seq_cst) >= q) return;  // idle runners will take it
        int r = runners.load(std::memory_order_seq_cst);
        while (r < max_workers) {
            if (runners.compare_exchange_weak(r, r + 1, std::memory_order_seq_cst)) {
                // TBB hands the runner over through its own (uninstrumented)
                // code: tell ThreadSanitizer what that orders (tbb_enqueue.cpp).
                detail::tsan_release_item(reinterpret_cast<std::uintptr_t>(this));
                detail::arena_enqueue(arena, &start_runner, this);
                return;
            }
        }
        // Every runner is busy: one of them takes it when it is done.
    }

    void wait_idle() {
        std::unique_lock lock(m);
        idle_cv.wait(lock, [&] {
            return runners.load(std::memory_order_seq_cst) == 0 &&
                   outstanding.load(std::memory_order_seq_cst) == 0;
        });
    }
    // A count that a waiter is watching dropped outside a runner.
    void notify_if_idle() {
        std::lock_guard lock(m);
        if (runners.load(std::memory_order_seq_cst) == 0 &&
            outstanding.load(std::memory_order_seq_cst) == 0) {
            idle_cv.notify_all();
        }
    }

    const int max_workers;
    tbb::task_arena arena;
    tbb::concurrent_queue<detail::job_base*> queue;
    std::atomic<long> queued{0};       // jobs in `queue`
    std::atomic<long> outstanding{0};  // jobs submitted and not finished
    std::atomic<int> runners{0};       // runners alive (enqueued or running)
    std::atomic<int> idle{0};          // runners watching an empty queue
    std::atomic<bool> shut{false};
    std::mutex m;
    std::condition_variable idle_cv;
    // The pool whose job this thread is running (shutdown(wait) from inside).
    static thread_local impl* current;
};

thread_local thread_pool_executor::impl* thread_pool_executor::impl::current = nullptr;

int thread_pool_executor::default_max_workers() noexcept {
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return static_cast<int>(std::min(32u, cores + 4));
}

thread_pool_executor::thread_pool_executor(int max_workers) {
    if (max_workers < 1) {
        throw std::invalid_argument(
            "weft::thread_pool_executor: max_workers must be at least 1, got " +
            std::to_string(max_workers));
    }
    impl_ = std::make_unique<impl>(max_workers);
}

thread_pool_executor::~thread_pool_executor() {
    impl_->shut.store(true, std::memory_order_seq_cst);
    if (impl::current == impl_.get()) {
        // Destroyed by one of its own jobs: waiting would never end.
        weft::log(weft::log_level::critical,
                  "weft: a thread_pool_executor destroyed by one of its own jobs");
        std::terminate();
    }
    impl_->wait_idle();
}

void thread_pool_executor::enqueue(detail::job_base* job) {
    impl& p = *impl_;
    // seq_cst, with shutdown's: either shutdown sees this job counted and
    // waits for it, or this sees `shut` and refuses it (Dekker).
    p.outstanding.fetch_add(1, std::memory_order_seq_cst);
    if (p.shut.load(std::memory_order_seq_cst)) {
        p.outstanding.fetch_sub(1, std::memory_order_seq_cst);
        p.notify_if_idle();
        job->core()->release();
        throw executor_shutdown_error(
            "weft::thread_pool_executor: cannot schedule new work after shutdown");
    }
    detail::tsan_release_item(reinterpret_cast<std::uintptr_t>(job));
    p.queue.push(job);
    p.ensure_runner();
}

void thread_pool_executor::shutdown(bool wait, bool cancel_futures) {
    impl& p = *impl_;
    if (wait && impl::current == &p) {
        throw std::logic_error(
            "weft::thread_pool_executor::shutdown(wait=true) called from one of the pool's own "
            "jobs: it would wait for itself");
    }
    p.shut.store(true, std::memory_order_seq_cst);
    if (cancel_futures) {
        detail::job_base* job = nullptr;
        while (p.take(job)) {
            detail::tsan_acquire_item(reinterpret_cast<std::uintptr_t>(job));
            job->cancel_job(nullptr);
            job->core()->release();
            p.outstanding.fetch_sub(1, std::memory_order_seq_cst);
        }
        p.notify_if_idle();
    }
    if (wait) p.wait_idle();
}

int thread_pool_executor::max_workers() const noexcept {
    return impl_->max_workers;
}

bool thread_pool_executor::is_shutdown() const noexcept {
    return impl_->shut.load(std::memory_order_acquire);
}

}  // namespace weft
