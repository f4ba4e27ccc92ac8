// The idle protocol (weft/detail/idle.hpp): the real idle-state class, on
// the checker's atomics and mutex, played by two workers and a producer.
// What the workers and the producer do around it lives in go_worker.cpp and
// runtime.cpp, which are not templates; it is mirrored here call for call
// (each function names the one it mirrors), with the queues reduced to
// counters that keep the real code's memory orders:
//   - the global queue (inject_queue) is a count written under a mutex and
//     read without it, relaxed, as size_approx reads it;
//   - a local queue (work_queue) is a count pushed with release and looked
//     at with acquire, as try_push and size() do (its own correctness is
//     test_work_queue.cpp's business);
//   - a worker's eventfd is a semaphore its parked thread sleeps on.
// Left out: timers, I/O and the FIFO (other reasons to wake), the search
// rounds before parking (they repeat the same looks), stealing half (one
// item at a time here).
//
// The property, no lost wake-up: once the producer is done and nothing can
// happen any more (every worker parked, or busy in a step that lasts until
// the end), no item is left queued.
#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include <weft/detail/idle.hpp>

#include "checker.hpp"
#include "sync.hpp"

namespace {

namespace model = weft::model;
using std::memory_order_acq_rel;
using std::memory_order_acquire;
using std::memory_order_relaxed;
using std::memory_order_release;
using std::memory_order_seq_cst;

constexpr unsigned workers = 2;

// The protocol as it is, or with one piece taken out (the models must then
// find a lost wake-up), and the shape of the workload.
struct protocol {
    bool inject_fence = true;         // runtime_core::inject, between push and notify
    bool recheck_after_park = true;   // rule 5: park -> notify_if_work_pending
    bool notify_if_more_work = true;  // rule 4: stop_searching -> notify_if_work_pending
    bool long_steps = false;          // an item keeps its worker busy until the end
    unsigned items = 2;               // injected one by one
    // The workers have searched and parked before the producer starts
    // (else they start as a runtime's do, racing the producer from the top).
    bool start_parked = false;
};

// inject_queue: a list under a mutex, and its length, written under the
// mutex and read without it.
class global_queue {
public:
    void push() {
        std::lock_guard lock(mutex_);
        size_.store(size_.load(memory_order_relaxed) + 1, memory_order_relaxed);
    }
    unsigned size_approx() const { return size_.load(memory_order_relaxed); }
    unsigned pop_batch(unsigned max) {
        if (size_approx() == 0) return 0;
        std::lock_guard lock(mutex_);
        unsigned n = std::min(size_.load(memory_order_relaxed), max);
        size_.store(size_.load(memory_order_relaxed) - n, memory_order_relaxed);
        return n;
    }

private:
    model::mutex mutex_;
    model::atomic<unsigned> size_{0};
};

// work_queue, as a count.
class local_queue {
public:
    void push() { count_.fetch_add(1, memory_order_release); }
    bool empty() const { return count_.load(memory_order_acquire) == 0; }
    // pop (the owner) or steal (another worker): one item, if any.
    bool take() {
        int c = count_.load(memory_order_acquire);
        while (c > 0 && !count_.compare_exchange_strong(c, c - 1, memory_order_acq_rel,
                                                        memory_order_acquire)) {
        }
        return c > 0;
    }
    int size_now() const { return count_.load(memory_order_relaxed); }

private:
    model::atomic<int> count_{0};
};

struct world {
    explicit world(protocol p) : how(p) {}

    const protocol how;
    weft::detail::basic_idle<model::model_sync> idle{workers};
    global_queue global;
    local_queue local[workers];
    model::binary_semaphore wakeup[workers];     // each worker's eventfd
    model::binary_semaphore step_ends[workers];  // ends a long step
    // Written by the main thread once the model is quiet, when no worker
    // runs: plain, like the counts of the test's own bookkeeping.
    bool stopping = false;
    unsigned injected = 0;
    unsigned started = 0;
};

// ---- runtime.cpp

// runtime_core::notify_parked, with event_loop::wake_thread's eventfd write.
void notify_parked(world& w) {
    int n = w.idle.worker_to_notify();
    if (n >= 0) w.wakeup[n].release();
}

// runtime_core::notify_if_work_pending (rules 4 and 5).
void notify_if_work_pending(world& w) {
    model::fence(memory_order_seq_cst);
    for (auto& q : w.local) {
        if (!q.empty()) {
            notify_parked(w);
            return;
        }
    }
    if (w.global.size_approx() != 0) notify_parked(w);
}

// runtime_core::inject (rule 2).
void inject(world& w) {
    w.global.push();
    if (w.how.inject_fence) model::fence(memory_order_seq_cst);
    notify_parked(w);
}

// go_worker::push_local (never full here).
void push_local(world& w, unsigned me) {
    w.local[me].push();
    notify_parked(w);
}

// runtime_core::pop_global: a fair share, the first to run, the rest local.
bool pop_global(world& w, unsigned me) {
    if (w.global.size_approx() == 0) return false;
    unsigned share = w.global.size_approx() / workers + 1;
    unsigned got = w.global.pop_batch(share);
    if (got == 0) return false;
    for (unsigned i = 1; i < got; ++i)
        push_local(w, me);
    return true;
}

// ---- go_worker.cpp

// go_worker::steal_work.
bool steal_work(world& w, unsigned me) {
    for (unsigned v = 0; v < workers; ++v) {
        if (v != me && w.local[v].take()) return true;
    }
    return false;
}

// go_worker::park (rules 3 and 5).
void park(world& w, unsigned me, bool& searching) {
    if (!w.local[me].empty()) return;
    bool last = w.idle.park(me, searching);
    searching = false;
    if (last && w.how.recheck_after_park) notify_if_work_pending(w);
    for (;;) {
        if (w.stopping) break;
        w.wakeup[me].acquire();  // poller_.wait: until the eventfd is written
        if (!w.local[me].empty()) break;
        if (!w.idle.is_parked(me)) break;  // notified
    }
    searching = w.idle.unpark(me);
}

// go_worker::find_work (rule 1), less timers, I/O and search rounds.
bool find_work(world& w, unsigned me, bool& searching) {
    while (!w.stopping) {
        if (pop_global(w, me)) return true;
        if (!searching) searching = w.idle.try_start_searching();
        if (searching && steal_work(w, me)) return true;
        if (pop_global(w, me)) return true;
        park(w, me, searching);
        if (w.local[me].take()) return true;  // next_local
    }
    return false;
}

// go_worker::run (rule 4).
void run_worker(world& w, unsigned me) {
    bool searching = false;
    while (!w.stopping) {
        bool got = w.local[me].take();  // next_local
        if (!got && !find_work(w, me, searching)) continue;
        if (searching) {
            searching = false;
            if (w.idle.stop_searching() && w.how.notify_if_more_work) notify_if_work_pending(w);
        }
        ++w.started;
        if (w.how.long_steps) w.step_ends[me].acquire();
    }
}

model::report check_idle(protocol how, model::options opts = {}) {
    return model::check(opts, [how] {
        world w(how);
        model::thread worker0([&] { run_worker(w, 0); });
        model::thread worker1([&] { run_worker(w, 1); });
        if (w.how.start_parked) model::wait_until_quiet();
        model::thread producer([&] {
            for (unsigned i = 0; i < w.how.items; ++i) {
                ++w.injected;
                inject(w);
            }
        });
        producer.join();
        model::wait_until_quiet();
        unsigned queued = w.global.size_approx();
        for (auto& q : w.local)
            queued += static_cast<unsigned>(q.size_now());
        model::expect(queued == 0, "lost wake-up: " + std::to_string(queued) +
                                       " item(s) queued, and every worker parked or busy");
        if (!how.long_steps) {
            model::expect(w.started == w.injected, "items run: " + std::to_string(w.started) +
                                                       " of " + std::to_string(w.injected));
        }
        w.stopping = true;
        for (unsigned i = 0; i < workers; ++i) {
            w.wakeup[i].release();
            w.step_ends[i].release();
        }
    });
}

void expect_holds(const model::report& r) {
    EXPECT_FALSE(r.failed) << r.failure;
    EXPECT_TRUE(r.exhausted) << "not exhausted after " << r.executions << " executions";
    std::printf("  %llu executions in %.1f s\n", static_cast<unsigned long long>(r.executions),
                r.seconds);
}

void expect_lost_wakeup(const model::report& r) {
    ASSERT_TRUE(r.failed) << r.executions << " executions found nothing";
    EXPECT_NE(r.failure.find("lost wake-up"), std::string::npos) << r.failure;
}

// Workers starting up (searching, then parking) race one injection: rules
// 1, 2 and 5.
TEST(ModelIdle, AnInjectionRacingWorkersThatParkWakesOne) {
    expect_holds(check_idle({.items = 1}));
}

// Parked workers, two injections: the notified worker runs the first and
// parks again while the second arrives (rules 2, 3 and 5).
TEST(ModelIdle, InjectionsAgainstParkedWorkersLoseNoWakeUp) {
    expect_holds(check_idle({.start_parked = true}, {.stale_reads = 3}));
}

// Parked workers, two injections, and items that keep their worker busy:
// the second must not wait behind the first. When the notified worker
// takes both from the global queue, the second is in its local queue, and
// only rule 4 (the last searcher to find work wakes another if more is in
// sight) gets the other worker to steal it.
TEST(ModelIdle, LongStepsLeaveNothingQueuedBehindThem) {
    expect_holds(check_idle({.long_steps = true, .start_parked = true},
                            {.preemptions = 3, .stale_reads = 3}));
}

// What the checker found beyond the rules: a worker that rule 1 keeps from
// searching (another searches) parks without looking at the local queues,
// and is not "last searcher" either. If the searcher, meanwhile, took two
// items and is now busy in a long step with the second in its local queue,
// rule 4's notification found nobody parked yet (the other was still on
// its way), and the second item waits until the step ends, or until the
// monitor hands the blocked loop to another thread (Go's findrunnable and
// sysmon leave the same gap). Not a lost wake-up: the item runs when its
// worker comes back. Kept as a test so that a change of protocol that
// closes the gap shows here.
TEST(ModelIdle, ANonSearcherParksPastWorkQueuedBehindALongStep) {
    expect_lost_wakeup(check_idle({.long_steps = true}));
}

// The broken twins: each piece of the protocol is needed.
TEST(ModelIdle, WithoutTheInjectFenceAWakeUpIsLost) {
    expect_lost_wakeup(check_idle({.inject_fence = false, .items = 1}));
}

TEST(ModelIdle, WithoutTheLastParkersRecheckAWakeUpIsLost) {
    expect_lost_wakeup(check_idle({.recheck_after_park = false, .items = 1}));
}

TEST(ModelIdle, WithoutRuleFourWorkQueuedBehindALongStepIsStranded) {
    expect_lost_wakeup(
        check_idle({.notify_if_more_work = false, .long_steps = true, .start_parked = true}));
}

}  // namespace
