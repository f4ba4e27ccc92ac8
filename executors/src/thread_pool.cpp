// thread_pool_executor: a FIFO of jobs drained by tasks enqueued into a oneTBB
// task_arena whose concurrency is the pool's max_workers.
//
// Each submit pushes the job on the pool's own queue and enqueues one arena
// task that pops one job (the oldest: arena.enqueue alone is only roughly
// FIFO) and runs it. `outstanding` counts arena tasks not yet finished;
// shutdown(wait) and the destructor wait for it to reach zero, which is the
// last thing an arena task does with the pool, so the pool may be destroyed
// as soon as it is zero.
#include <algorithm>
#include <atomic>
#include <condition_variable>
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

#include <weft/executors/thread_pool.hpp>

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

struct thread_pool_executor::impl {
    explicit impl(int workers) : max_workers(workers), arena(workers, 0) {
        tbb_thread_budget::get().add(workers);
        arena.initialize();
    }
    ~impl() { tbb_thread_budget::get().remove(max_workers); }

    void run_one() noexcept {
        detail::job_base* job = nullptr;
        if (queue.try_pop(job)) {
            impl* outer = current;
            current = this;
            job->execute(job);
            current = outer;
        }
        finish_one();
    }
    void finish_one() noexcept {
        // Under the lock: a waiter that sees zero may destroy the pool at
        // once, so the notify must be done before it can look.
        std::lock_guard lock(m);
        // Relaxed: ordered by the lock with the waiter's read.
        if (outstanding.fetch_sub(1, std::memory_order_relaxed) == 1) idle.notify_all();
    }
    void wait_idle() {
        std::unique_lock lock(m);
        idle.wait(lock, [&] { return outstanding.load(std::memory_order_relaxed) == 0; });
    }

    const int max_workers;
    tbb::task_arena arena;
    tbb::concurrent_queue<detail::job_base*> queue;
    std::atomic<std::size_t> outstanding{0};
    std::atomic<bool> shut{false};
    std::mutex m;
    std::condition_variable idle;
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
        std::fputs("weft: a thread_pool_executor destroyed by one of its own jobs\n", stderr);
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
        p.finish_one();
        job->core()->release();
        throw executor_shutdown_error(
            "weft::thread_pool_executor: cannot schedule new work after shutdown");
    }
    p.queue.push(job);
    p.arena.enqueue([&p] { p.run_one(); });
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
        // The arena tasks of these jobs find the queue empty and only count
        // themselves done.
        detail::job_base* job = nullptr;
        while (p.queue.try_pop(job)) {
            job->cancel_job(nullptr);
            job->core()->release();
        }
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
