// The pool behind start_blocking (blocking_pool.hpp): threads start when work arrives and no
// thread is idle, up to max_threads(), and leave after idle_timeout.
#include "blocking_pool.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace weft::detail {

namespace {

// Lookups are slow and bursty (one per connection attempt), and weft::file
// runs its syscalls here on the epoll backend: as many threads as asyncio's
// default executor has, min(32, cores + 4), so that a burst of reads is not
// served a handful at a time and one slow DNS server does not hold every
// other lookup back.
int max_threads() {
    static const int n = [] {
        unsigned cores = std::thread::hardware_concurrency();
        return static_cast<int>(std::min(32u, (cores == 0 ? 1u : cores) + 4u));
    }();
    return n;
}
constexpr std::chrono::seconds idle_timeout{10};

struct blocking_pool {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::function<void()>> jobs;
    int threads = 0;
    int idle = 0;

    void submit(std::function<void()> job) {
        std::unique_lock lock(mutex);
        jobs.push_back(std::move(job));
        if (idle > 0) {
            cv.notify_one();
        } else if (threads < max_threads()) {
            ++threads;
            // Detached: a thread blocked in getaddrinfo must not hold up
            // the process's exit. The pool itself is never destroyed.
            std::thread([this] { work(); }).detach();
        }
    }

    void work() {
        std::unique_lock lock(mutex);
        for (;;) {
            while (jobs.empty()) {
                ++idle;
                bool woken = cv.wait_for(lock, idle_timeout, [this] { return !jobs.empty(); });
                --idle;
                if (!woken) {
                    --threads;
                    return;
                }
            }
            std::function<void()> job = std::move(jobs.front());
            jobs.pop_front();
            lock.unlock();
            job();
            job = nullptr;  // its captures die here, not under the lock
            lock.lock();
        }
    }
};

blocking_pool& pool() {
    static blocking_pool* p = new blocking_pool;  // outlives the detached threads
    return *p;
}

}  // namespace

void submit_blocking(std::function<void()> job) {
    pool().submit(std::move(job));
}

}  // namespace weft::detail
