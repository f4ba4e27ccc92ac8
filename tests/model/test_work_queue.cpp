// The worker's deque (weft/detail/work_queue.hpp), the real code on the
// checker's atomics, shrunk to 4 slots as Tokio's loom tests shrink theirs:
// an owner pushing, popping and overflowing against two thieves stealing
// half at a time. The property: every item pushed is taken exactly once,
// by the owner, a thief, or the overflow, and none is lost. Each model
// also runs on a deque with a deliberate bug, which must be caught.
#include <array>
#include <string>

#include <gtest/gtest.h>

#include <weft/detail/work_queue.hpp>

#include "checker.hpp"
#include "sync.hpp"

namespace {

namespace model = weft::model;
using weft::detail::work_queue;

// ---- deliberately broken primitives, to show the models can fail

// seq_cst fences demoted to acq_rel: the owner's pop and a thief's steal
// no longer see each other's index for sure (store buffering).
struct weak_fence_sync : model::model_sync {
    static void fence(std::memory_order, const model::where& w = model::where::current()) {
        model::fence(std::memory_order_acq_rel, w);
    }
};

// compare_exchange as a load then a store: two thieves can both claim the
// same item.
template <class T>
class racy_cas_atomic : public model::atomic<T> {
public:
    using model::atomic<T>::atomic;
    bool compare_exchange_strong(T& expected, T desired, std::memory_order, std::memory_order,
                                 const model::where& w = model::where::current()) {
        T seen = this->load(std::memory_order_acquire, w);
        if (seen != expected) {
            expected = seen;
            return false;
        }
        this->store(desired, std::memory_order_release, w);
        return true;
    }
};
struct racy_cas_sync : model::model_sync {
    template <class T>
    using atomic = racy_cas_atomic<T>;
};

// ---- the bookkeeping of who took what

constexpr std::uintptr_t max_items = 8;

struct ledger {
    std::array<int, max_items + 1> taken{};
    std::uintptr_t pushed = 0;

    void take(std::uintptr_t v, const char* who) {
        if (v == 0) return;
        model::expect(v <= pushed, std::string(who) + " took item " + std::to_string(v) +
                                       ", which was never pushed");
        model::expect(++taken[v] == 1,
                      std::string(who) + " took item " + std::to_string(v) + " a second time");
    }
    void expect_each_once() {
        for (std::uintptr_t v = 1; v <= pushed; ++v)
            model::expect(taken[v] == 1, "item " + std::to_string(v) + " was lost");
    }
};

// One thief: steals once into its own deque (whose owner it is), keeps the
// item returned, and leaves the rest in its deque for the end.
template <class Queue>
void steal_once(Queue& victim, Queue& mine, ledger& l, const char* who) {
    std::uint32_t stolen = 0;
    l.take(victim.stealer().steal_into(mine.owner(), stolen), who);
}

// After the threads are joined: whatever is left anywhere is taken now.
template <class Queue>
void drain(Queue& q, ledger& l, const char* who) {
    while (std::uintptr_t v = q.owner().pop())
        l.take(v, who);
}

// As go_worker::push_local: when the deque is full, the older half and the
// new item go to the global queue; if a thief raced the overflow, it made
// room, and the push is tried again.
template <class Queue>
void push_or_overflow(Queue& q, std::uintptr_t v, ledger& l) {
    l.pushed = v;
    while (!q.owner().try_push(v)) {
        if (q.owner().take_half_for_overflow(
                [&](std::uintptr_t old) { l.take(old, "the overflow"); })) {
            l.take(v, "the overflow");
            return;
        }
    }
}

// The owner pushes, pops the newest and pushes again while two thieves each
// steal once: pop's last-item race with a steal, steals racing each other
// for one item, a thief's view of a push.
template <class Sync>
model::report push_pop_against_two_thieves(model::options opts = {}) {
    return model::check(opts, [] {
        using queue = work_queue<4, Sync>;
        ledger l;
        queue q;
        queue loot1;
        queue loot2;
        push_or_overflow(q, 1, l);
        push_or_overflow(q, 2, l);
        model::thread thief1([&] { steal_once(q, loot1, l, "thief 1"); });
        model::thread thief2([&] { steal_once(q, loot2, l, "thief 2"); });
        l.take(q.owner().pop(), "the owner");
        push_or_overflow(q, 3, l);
        l.take(q.owner().pop(), "the owner");
        l.take(q.owner().pop(), "the owner");
        thief1.join();
        thief2.join();
        drain(q, l, "the owner");
        drain(loot1, l, "thief 1");
        drain(loot2, l, "thief 2");
        l.expect_each_once();
    });
}

// A full deque: the owner's push fails, it sends the older half away
// (push_local's overflow to the global queue) while two thieves steal from
// the same end; then it pushes and pops again.
template <class Sync>
model::report overflow_against_two_thieves(model::options opts = {}) {
    return model::check(opts, [] {
        using queue = work_queue<4, Sync>;
        ledger l;
        queue q;
        queue loot1;
        queue loot2;
        for (std::uintptr_t v = 1; v <= 4; ++v)
            push_or_overflow(q, v, l);
        model::thread thief1([&] { steal_once(q, loot1, l, "thief 1"); });
        model::thread thief2([&] { steal_once(q, loot2, l, "thief 2"); });
        push_or_overflow(q, 5, l);
        push_or_overflow(q, 6, l);
        l.take(q.owner().pop(), "the owner");
        thief1.join();
        thief2.join();
        drain(q, l, "the owner");
        drain(loot1, l, "thief 1");
        drain(loot2, l, "thief 2");
        l.expect_each_once();
    });
}

// The deque's models run one bound deeper than the default: 3 preemptions
// and 3 stale reads (a few seconds each; the default 2 and 2 find the bugs
// below in well under a second).
constexpr model::options deep{.preemptions = 3, .stale_reads = 3};

void expect_holds(const model::report& r) {
    EXPECT_FALSE(r.failed) << r.failure;
    EXPECT_TRUE(r.exhausted) << "not exhausted after " << r.executions << " executions";
    std::printf("  %llu executions in %.1f s\n", static_cast<unsigned long long>(r.executions),
                r.seconds);
}

void expect_taken_twice(const model::report& r) {
    ASSERT_TRUE(r.failed) << r.executions << " executions found nothing";
    EXPECT_NE(r.failure.find("a second time"), std::string::npos) << r.failure;
}

TEST(ModelWorkQueue, PushPopAgainstTwoThievesTakesEachItemOnce) {
    expect_holds(push_pop_against_two_thieves<model::model_sync>(deep));
}
// A full deque overflows half while both thieves steal, then the owner
// pushes and pops. This found the deque's one breach of the C++ model, when
// try_push published with a release store of `bottom`: the owner's pop
// lowers `bottom` with a relaxed store, and a thief whose acquire load reads
// that value did not synchronise with the push (since C++20 a release
// sequence goes on through read-modify-writes only, not through later plain
// stores of the same thread), so it could read a slot as it was before the
// push, one that wrapped round and still held an item taken long ago. The
// failing schedule (2 preemptions, 2 stale reads):
//   - the owner fills the deque (1..4); thief 1 steals 1 and 2;
//   - the owner's overflow loses its CAS to thief 1, so it pushes 5 into
//     slot 0 and 6 into slot 1 (bottom = 5, 6), then pop stores bottom = 5
//     (relaxed), and is preempted before its fence;
//   - thief 2 reads bottom = 5 from that relaxed store and a stale top = 0,
//     so it goes for three items: 3, 4, and at index 4 it reads slot 0 as
//     it was before the push of 5: item 1, which thief 1 already took.
// Not observable on x86-64 (every store is a release) nor, as far as its
// model goes, on ARMv8. try_push now does as Lê et al. (PPoPP 2013): a
// release fence, then a relaxed store, so that every later store of
// `bottom` by the owner carries the release.
TEST(ModelWorkQueue, OverflowAgainstTwoThievesTakesEachItemOnce) {
    expect_holds(overflow_against_two_thieves<model::model_sync>(deep));
}

// The push's release fence left out: nothing publishes the slot.
struct no_release_fence_sync : model::model_sync {
    static void fence(std::memory_order o, const model::where& w = model::where::current()) {
        if (o != std::memory_order_release) model::fence(o, w);
    }
};

// Disabled: since the push's store of bottom is a release too (for
// ThreadSanitizer, which does not model fences), dropping the fence leaves a
// release store, and the checker finds nothing in 3.5 M executions. That
// contradicts the diagnosis in docs/model_checking.md (a release store
// alone lets a thief read a stale slot): either the checker's release
// sequences or the diagnosis is wrong. Open; this twin needs a variant whose
// store is relaxed to show the fence's effect again.
TEST(ModelWorkQueue, DISABLED_WithoutThePushsReleaseFenceAThiefReadsAStaleSlot) {
    auto r = push_pop_against_two_thieves<no_release_fence_sync>();
    ASSERT_TRUE(r.failed) << r.executions << " executions found nothing";
    std::printf("  found after %llu executions: %s\n",
                static_cast<unsigned long long>(r.executions), r.failure.c_str());
}

TEST(ModelWorkQueue, WithoutSeqCstFencesAnItemIsTakenTwice) {
    expect_taken_twice(push_pop_against_two_thieves<weak_fence_sync>());
}
TEST(ModelWorkQueue, WithANonAtomicCasTwoThievesTakeOneItem) {
    expect_taken_twice(push_pop_against_two_thieves<racy_cas_sync>());
}
TEST(ModelWorkQueue, WithANonAtomicCasOverflowAndThiefTakeOneItem) {
    expect_taken_twice(overflow_against_two_thieves<racy_cas_sync>());
}

}  // namespace
