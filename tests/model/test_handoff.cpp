// The hand-off (weft/detail/handoff.hpp): a machine ending a step while the
// monitor hands its loop to a spare, and weft::blocking handing it off on
// purpose while the monitor tries. The protocol's operations are the real
// code on the checker's atomics; the threads around them mirror what
// go_worker.cpp (go_worker::run), monitor.cpp (monitor_main, retake, hand_off,
// machine_main) and event_loop.hpp (owner_scope) do, less what does not
// touch the protocol's words (counters, traces, thread management).
//
// The properties: exactly one machine drives the loop afterwards, the one
// its owner word names; no two machines are ever inside the loop at once
// (an owner-only operation of the blocked machine never overlaps the
// spare's); the spare sees everything the blocked machine did to the loop;
// and the blocked machine learns it lost the loop exactly when it did.
#include <string>

#include <gtest/gtest.h>

#include <weft/detail/handoff.hpp>

#include "checker.hpp"
#include "sync.hpp"

namespace {

namespace model = weft::model;
using std::memory_order_acq_rel;
using std::memory_order_acquire;
using std::memory_order_relaxed;
using std::memory_order_release;
using weft::detail::machine_steps;

template <class Sync, class Ops>
struct loop_model;

// A machine (machine.hpp) with its thread's count of owner-only operations
// (thread_context::owner_ops).
template <class Sync, class Ops>
struct machine_model : machine_steps<Sync> {
    explicit machine_model(const char* n) : name(n) {}
    const char* name;
    model::atomic<loop_model<Sync, Ops>*> loop{nullptr};
    Ops owner_ops{0};
};

// The loop's words (event_loop's owner_ and driver_), and what owner-only
// operations touch: a value standing for its runnext slot, deque and FIFO,
// written relaxed as those are (they are one thread's).
template <class Sync, class Ops>
struct loop_model {
    using machine = machine_model<Sync, Ops>;
    model::atomic<machine*> owner{nullptr};
    model::atomic<machine*> driver{nullptr};
    model::atomic<int> contents{0};
    // The test's bookkeeping (the checker runs one thread at a time).
    int inside = 0;   // owner-only operations in progress
    int touches = 0;  // done so far
};

// An owner-only operation (event_loop::owner_scope around, say, push_wake):
// the loop's contents change if this machine owns the loop; else the
// operation takes the thread-safe path, which leaves them alone.
template <class Sync, class Ops>
void owner_operation(machine_model<Sync, Ops>& m, loop_model<Sync, Ops>& loop) {
    bool owned = weft::detail::enter_owner_operation<Sync>(m.owner_ops, loop.owner, &m);
    if (owned) {
        model::expect(++loop.inside == 1,
                      std::string(m.name) + " in the loop with another machine");
        int seen = loop.contents.load(memory_order_relaxed);
        model::expect(seen == loop.touches, std::string(m.name) + " read the loop as of " +
                                                std::to_string(seen) + " changes, not " +
                                                std::to_string(loop.touches));
        loop.contents.store(seen + 1, memory_order_relaxed);
        ++loop.touches;
        --loop.inside;
    }
    weft::detail::leave_owner_operation<Sync>(m.owner_ops);
}

// One loop, the machine driving it, a spare machine, and the test's record
// of what happened.
template <class Sync, class Ops>
struct world {
    using machine = machine_model<Sync, Ops>;
    loop_model<Sync, Ops> loop;
    machine first{"the first machine"};
    machine spare{"the spare"};
    model::binary_semaphore assigned;  // machine_main's wait for a loop to drive
    bool spare_used = false;           // by a hand-off (acquire_spare)
    bool first_lost = false;           // end_step said so
};

// runtime_core::acquire_spare, with one spare thread at most.
template <class Sync, class Ops>
machine_model<Sync, Ops>* acquire_spare(world<Sync, Ops>& w) {
    if (w.spare_used) return nullptr;
    w.spare_used = true;
    return &w.spare;
}

// go_worker::run for `steps` steps, each one or two owner-only
// operations, with `in_step` run between them (a task calling
// weft::blocking). Returns true if the loop was taken during a step.
template <class Sync, class Ops, class InStep>
bool run_worker(world<Sync, Ops>& w, machine_model<Sync, Ops>& m, int steps, InStep in_step) {
    auto& loop = w.loop;
    machine_model<Sync, Ops>* other = loop.driver.exchange(&m, memory_order_acq_rel);
    model::expect(other == nullptr, std::string("the loop driven by ") + m.name + " and " +
                                        (other != nullptr ? other->name : "") + " at once");
    m.loop.store(&loop, memory_order_relaxed);
    for (int i = 0; i < steps; ++i) {
        m.begin_step();
        owner_operation(m, loop);
        if (in_step(i)) owner_operation(m, loop);
        if (m.end_step()) {
            // Not one more access to the loop from here.
            m.loop.store(nullptr, memory_order_relaxed);
            return true;
        }
        model::expect(loop.driver.load(memory_order_relaxed) == &m,
                      std::string(m.name) + " lost its driver mid-run");
    }
    m.loop.store(nullptr, memory_order_relaxed);
    // release: the next driver's exchange sees everything this one did.
    loop.driver.store(nullptr, memory_order_release);
    return false;
}

// runtime_core::assign: the spare's thread wakes up to drive the loop.
template <class Sync, class Ops>
void assign(world<Sync, Ops>& w) {
    w.assigned.release();
}

// runtime_core::retake.
template <class Sync, class Ops>
void retake(world<Sync, Ops>& w, machine_model<Sync, Ops>& m, std::uint64_t step) {
    if (!m.try_claim()) return;
    machine_model<Sync, Ops>* spare = acquire_spare(w);
    if (spare == nullptr) {
        m.release_claim();
        return;
    }
    auto owner_ops = [&m]() -> Ops& { return m.owner_ops; };
    if (!weft::detail::take_blocked_loop(m, &m, m.loop, &w.loop, w.loop.owner, w.loop.driver, spare,
                                         step, owner_ops)) {
        w.spare_used = false;  // release_spare
        return;
    }
    assign(w);
}

// Two looks of runtime_core::monitor_main at the loop, the blocking
// threshold passing at once (the second may find the spare in its step,
// with no spare left to give the loop to).
template <class Sync, class Ops>
void monitor(world<Sync, Ops>& w) {
    for (int look = 0; look < 2; ++look) {
        machine_model<Sync, Ops>* m = w.loop.owner.load(memory_order_acquire);
        std::uint64_t step = m != nullptr ? m->step.load(memory_order_acquire) : 0;
        if (!(step & 1)) continue;  // between steps
        retake(w, *m, step);
    }
}

// runtime_core::hand_off (weft::blocking, on the driving machine's thread).
template <class Sync, class Ops>
bool hand_off(world<Sync, Ops>& w, machine_model<Sync, Ops>& m) {
    if (!m.claim_own()) return true;  // the monitor was first
    machine_model<Sync, Ops>* spare = acquire_spare(w);
    if (spare == nullptr) {
        m.release_claim();
        return false;
    }
    weft::detail::give_own_loop(m, w.loop.owner, w.loop.driver, spare);
    assign(w);
    return true;
}

// The first machine drives the loop for two steps, blocking on purpose in
// the first if `blocking`; the monitor looks twice; the spare waits for a
// loop (runtime_core::machine_main, each).
template <class Sync, class Ops = model::atomic<int>>
model::report check_handoff(bool blocking, model::options opts = {}) {
    return model::check(opts, [blocking] {
        world<Sync, Ops> w;
        w.loop.owner.store(&w.first, memory_order_relaxed);  // start_loops
        model::thread first([&] {
            w.first_lost = run_worker(w, w.first, 2, [&](int step) {
                return blocking && step == 0 && hand_off(w, w.first);
            });
            // machine_main: the verdict is not looked at again.
            if (w.first_lost) w.first.retake.store(weft::detail::retake_none, memory_order_relaxed);
        });
        model::thread sysmon([&] { monitor(w); });
        model::thread spare([&] {
            w.assigned.acquire();
            if (w.loop.owner.load(memory_order_relaxed) != &w.spare) return;  // told to exit
            model::expect(!run_worker(w, w.spare, 1, [](int) { return false; }),
                          "the spare lost the loop");
        });
        first.join();
        sysmon.join();
        if (!w.spare_used) assign(w);  // let the idle spare exit
        spare.join();
        model::expect(w.first_lost == w.spare_used,
                      w.first_lost ? "the first machine lost a loop nobody took"
                                   : "the loop was taken and the first machine never knew");
        auto* owner = w.loop.owner.load(memory_order_relaxed);
        model::expect(owner == (w.spare_used ? &w.spare : &w.first),
                      std::string("the loop's owner afterwards is ") +
                          (owner != nullptr ? owner->name : "nobody"));
        model::expect(w.loop.driver.load(memory_order_relaxed) == nullptr, "a driver left behind");
    });
}

void expect_holds(const model::report& r) {
    EXPECT_FALSE(r.failed) << r.failure;
    EXPECT_TRUE(r.exhausted) << "not exhausted after " << r.executions << " executions";
    std::printf("  %llu executions in %.1f s\n", static_cast<unsigned long long>(r.executions),
                r.seconds);
}

void expect_caught(const model::report& r, const std::string& what) {
    ASSERT_TRUE(r.failed) << r.executions << " executions found nothing";
    EXPECT_NE(r.failure.find(what), std::string::npos) << r.failure;
}

TEST(ModelHandoff, AStepEndingWhileTheMonitorRetakesLeavesOneDriver) {
    expect_holds(check_handoff<model::model_sync>(false, {.preemptions = 3, .stale_reads = 3}));
}

TEST(ModelHandoff, WithoutMembarrierTheFencesDoTheSame) {
    expect_holds(check_handoff<model::model_sync_without_membarrier>(false, {.stale_reads = 3}));
}

TEST(ModelHandoff, BlockingOnPurposeWhileTheMonitorRetakesLeavesOneDriver) {
    expect_holds(check_handoff<model::model_sync>(true, {.stale_reads = 3}));
}

// ---- broken twins

// No fence on either side: the end of the step and the retaker's look at
// the step word pass each other (store buffering), and the retaker takes a
// loop whose machine has gone on driving it.
struct no_fences_sync : model::model_sync {
    static void light_fence() {}
    static void heavy_fence() {}
};

TEST(ModelHandoff, WithoutTheFencesTheMachineMissesTheHandOff) {
    expect_caught(check_handoff<no_fences_sync>(false), "the first machine never knew");
}

// The end of an owner-only operation published relaxed: the retaker sees
// the count drop without what the operation wrote.
class relaxed_count : public model::atomic<int> {
public:
    using model::atomic<int>::atomic;
    void store(int v, std::memory_order, const model::where& w = model::where::current()) {
        model::atomic<int>::store(v, std::memory_order_relaxed, w);
    }
};

TEST(ModelHandoff, WithARelaxedEndOfOperationTheSpareReadsAStaleLoop) {
    expect_caught(check_handoff<model::model_sync, relaxed_count>(false), "read the loop as of");
}

}  // namespace
