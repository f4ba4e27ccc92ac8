// The checker checked: litmus tests whose outcomes the C++ memory model
// allows or forbids, each run both ways. A checker that never reports a
// violation would pass the models of weft's own code too, so every
// guarantee here comes with its broken twin that must be caught.
#include <gtest/gtest.h>

#include "checker.hpp"

namespace {

namespace model = weft::model;
using std::memory_order_acquire;
using std::memory_order_relaxed;
using std::memory_order_release;
using std::memory_order_seq_cst;

// Expects the search to end with no violation, having explored everything.
void expect_holds(const model::report& r) {
    EXPECT_FALSE(r.failed) << r.failure;
    EXPECT_TRUE(r.exhausted) << "not exhausted after " << r.executions << " executions";
}

// Expects the search to find a violation whose message contains `what`.
void expect_caught(const model::report& r, const std::string& what) {
    ASSERT_TRUE(r.failed) << "no violation in " << r.executions << " executions";
    EXPECT_NE(r.failure.find(what), std::string::npos) << r.failure;
}

// Store buffering: each thread stores to one location and loads the other.
// Without seq_cst both may read the initial 0 (a store waits in a store
// buffer); a seq_cst fence between store and load, on both sides, forbids
// that, and so do seq_cst accesses. A fence on one side only does not.
enum class sb { relaxed, fences, seq_cst_ops, one_fence };
model::report store_buffering(sb how) {
    return model::check({}, [how] {
        model::atomic<int> x{0};
        model::atomic<int> y{0};
        int r1 = -1;
        int r2 = -1;
        auto order = how == sb::seq_cst_ops ? memory_order_seq_cst : memory_order_relaxed;
        model::thread a([&] {
            x.store(1, order);
            if (how == sb::fences || how == sb::one_fence) model::fence(memory_order_seq_cst);
            r1 = y.load(order);
        });
        model::thread b([&] {
            y.store(1, order);
            if (how == sb::fences) model::fence(memory_order_seq_cst);
            r2 = x.load(order);
        });
        a.join();
        b.join();
        model::expect(r1 == 1 || r2 == 1, "store buffering: both loads read 0");
    });
}

TEST(ModelChecker, StoreBufferingWithoutFencesReadsBothZeros) {
    expect_caught(store_buffering(sb::relaxed), "both loads read 0");
}
TEST(ModelChecker, StoreBufferingWithSeqCstFencesNeverReadsBothZeros) {
    expect_holds(store_buffering(sb::fences));
}
TEST(ModelChecker, StoreBufferingWithSeqCstAccessesNeverReadsBothZeros) {
    expect_holds(store_buffering(sb::seq_cst_ops));
}
TEST(ModelChecker, StoreBufferingWithOneFenceReadsBothZeros) {
    expect_caught(store_buffering(sb::one_fence), "both loads read 0");
}

// Message passing: data, then a flag; whoever sees the flag must see the
// data. Relaxed orders do not promise it; release/acquire does, and so do
// a release fence before a relaxed store with an acquire fence after a
// relaxed load.
enum class mp { relaxed, release_acquire, fences };
model::report message_passing(mp how) {
    return model::check({}, [how] {
        model::atomic<int> data{0};
        model::atomic<int> flag{0};
        model::thread writer([&] {
            data.store(42, memory_order_relaxed);
            if (how == mp::fences) model::fence(memory_order_release);
            flag.store(1, how == mp::release_acquire ? memory_order_release : memory_order_relaxed);
        });
        int f = flag.load(how == mp::release_acquire ? memory_order_acquire : memory_order_relaxed);
        if (how == mp::fences) model::fence(memory_order_acquire);
        int d = data.load(memory_order_relaxed);
        writer.join();
        model::expect(f == 0 || d == 42, "message passing: the flag without the data");
    });
}

TEST(ModelChecker, MessagePassingRelaxedReadsStaleData) {
    expect_caught(message_passing(mp::relaxed), "the flag without the data");
}
TEST(ModelChecker, MessagePassingReleaseAcquireSeesTheData) {
    expect_holds(message_passing(mp::release_acquire));
}
TEST(ModelChecker, MessagePassingWithFencesSeesTheData) {
    expect_holds(message_passing(mp::fences));
}

// A release sequence: an RMW in between (relaxed, by another thread) still
// carries the release store's data to an acquire load that reads the RMW.
TEST(ModelChecker, ReleaseSequenceThroughAnRmw) {
    expect_holds(model::check({}, [] {
        model::atomic<int> data{0};
        model::atomic<int> flag{0};
        model::thread writer([&] {
            data.store(1, memory_order_relaxed);
            flag.store(1, memory_order_release);
        });
        model::thread bumper([&] { flag.fetch_add(1, memory_order_relaxed); });
        int f = flag.load(memory_order_acquire);
        int d = data.load(memory_order_relaxed);
        writer.join();
        bumper.join();
        model::expect(f != 2 || d == 1, "release sequence broken");
    }));
}

// Coherence: one thread's loads of a location never go back in time, even
// relaxed; but the stale values a load may read are found.
TEST(ModelChecker, ReadsOfOneLocationNeverGoBackwards) {
    expect_holds(model::check({.stale_reads = 3}, [] {
        model::atomic<int> x{0};
        model::thread writer([&] {
            x.store(1, memory_order_relaxed);
            x.store(2, memory_order_relaxed);
        });
        int a = x.load(memory_order_relaxed);
        int b = x.load(memory_order_relaxed);
        writer.join();
        model::expect(b >= a, "coherence: a later load read an older store");
    }));
}
TEST(ModelChecker, RelaxedLoadMayReadAnOlderStore) {
    expect_caught(
        model::check({},
                     [] {
                         model::atomic<int> x{0};
                         model::thread writer([&] {
                             x.store(1, memory_order_relaxed);
                             x.store(2, memory_order_relaxed);
                         });
                         writer.join();
                         // Joined: the writer happens before us, so only 2 is readable.
                         int after_join = x.load(memory_order_relaxed);
                         model::expect(after_join == 2, "a load after join read an older store");
                         model::thread again([&] { x.store(3, memory_order_relaxed); });
                         int racing = x.load(memory_order_relaxed);
                         again.join();
                         model::expect(racing != 2, "the racing load read the older store");
                     }),
        "the racing load read the older store");
}

// A lost update without a mutex; none with one.
model::report counter(bool locked) {
    return model::check({}, [locked] {
        model::mutex m;
        model::atomic<int> n{0};
        auto add = [&] {
            if (locked) m.lock();
            n.store(n.load(memory_order_relaxed) + 1, memory_order_relaxed);
            if (locked) m.unlock();
        };
        model::thread a(add);
        model::thread b(add);
        a.join();
        b.join();
        model::expect(n.load(memory_order_relaxed) == 2, "an increment was lost");
    });
}
TEST(ModelChecker, UnlockedIncrementsLoseOne) {
    expect_caught(counter(false), "an increment was lost");
}
TEST(ModelChecker, MutexKeepsEveryIncrement) {
    expect_holds(counter(true));
}

// Two mutexes taken in opposite orders deadlock in some interleaving.
TEST(ModelChecker, LockOrderInversionDeadlocks) {
    expect_caught(model::check({},
                               [] {
                                   model::mutex a;
                                   model::mutex b;
                                   model::thread t([&] {
                                       a.lock();
                                       b.lock();
                                       b.unlock();
                                       a.unlock();
                                   });
                                   b.lock();
                                   a.lock();
                                   a.unlock();
                                   b.unlock();
                                   t.join();
                               }),
                  "deadlock");
}

// A spin-wait that yields ends; one that never can is reported as a livelock.
TEST(ModelChecker, YieldingSpinWaitEnds) {
    expect_holds(model::check({}, [] {
        model::atomic<bool> ready{false};
        model::thread t([&] { ready.store(true, memory_order_release); });
        while (!ready.load(memory_order_acquire))
            model::yield_now();
        t.join();
    }));
}
TEST(ModelChecker, SpinWaitForNothingIsALivelock) {
    expect_caught(model::check({.max_steps = 200},
                               [] {
                                   model::atomic<bool> ready{false};
                                   int spins = 0;
                                   while (!ready.load(memory_order_acquire) && ++spins < 1000)
                                       model::yield_now();
                               }),
                  "livelock");
}

// The preemption bound is what keeps a search finite: with none, a thread
// switch happens only when a thread blocks or ends.
TEST(ModelChecker, WithoutPreemptionsThreadsRunOneAfterTheOther) {
    auto r = model::check({.preemptions = 0, .stale_reads = 0}, [] {
        model::atomic<int> x{0};
        model::thread a([&] {
            x.fetch_add(1, memory_order_relaxed);
            x.fetch_add(1, memory_order_relaxed);
        });
        model::thread b([&] {
            int v = x.load(memory_order_relaxed);
            model::expect(v == 0 || v == 2, "b ran inside a's two increments");
        });
        a.join();
        b.join();
    });
    expect_holds(r);
    // b first; or a first, and then b or the main thread (back from its
    // join of a) goes next.
    EXPECT_EQ(r.executions, 3u);
}
TEST(ModelChecker, OnePreemptionInterleaves) {
    expect_caught(model::check({.preemptions = 1, .stale_reads = 0},
                               [] {
                                   model::atomic<int> x{0};
                                   model::thread a([&] {
                                       x.fetch_add(1, memory_order_relaxed);
                                       x.fetch_add(1, memory_order_relaxed);
                                   });
                                   model::thread b([&] {
                                       int v = x.load(memory_order_relaxed);
                                       model::expect(v == 0 || v == 2,
                                                     "b ran inside a's two increments");
                                   });
                                   a.join();
                                   b.join();
                               }),
                  "inside a's two increments");
}

// The report of a violation names the step, the thread and the line.
TEST(ModelChecker, ReportTracesTheFailingExecution) {
    auto r = message_passing(mp::relaxed);
    ASSERT_TRUE(r.failed);
    EXPECT_NE(r.failure.find("choices"), std::string::npos) << r.failure;
    EXPECT_NE(r.failure.find("stale"), std::string::npos) << r.failure;
    EXPECT_NE(r.failure.find("test_checker.cpp:"), std::string::npos) << r.failure;
    EXPECT_NE(r.failure.find(".store(42, relaxed)"), std::string::npos) << r.failure;
}

}  // namespace
