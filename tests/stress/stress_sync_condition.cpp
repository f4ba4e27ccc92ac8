// condition hammered from several workers at once (runs under
// ThreadSanitizer in CI): producers notify one consumer per item, consumers
// wait with wait_for, and half of them are cancelled on the way; a lost
// notification (between a waiter's release of the lock and its wait, or
// swallowed by a consumer notified and then cancelled) hangs the test.
#include <atomic>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

struct shared_state {
    weft::condition cond;
    long available = 0;  // items made and not yet taken: under cond's lock
    long taken = 0;      // under cond's lock
    long total = 0;
};

weft::task<void> producer(shared_state* s, int items) {
    for (int i = 0; i < items; ++i) {
        {
            auto held = co_await s->cond.scoped();
            ++s->available;
            s->cond.notify(1);  // exactly one: a lost one would leave an item behind
        }
        if (i % 3 == 0) co_await weft::yield_now();
    }
}

weft::task<void> consumer(shared_state* s) {
    for (;;) {
        auto held = co_await s->cond.scoped();
        co_await s->cond.wait_for([s] { return s->available > 0 || s->taken == s->total; });
        if (s->available == 0) co_return;  // everything was taken
        --s->available;
        if (++s->taken == s->total) s->cond.notify_all();  // let the others leave
    }
}

TEST(ConditionStress, NoNotificationIsLostAcrossWorkers) {
    weft::run(
        []() -> weft::task<void> {
            for (int round = 0; round < 100; ++round) {
                shared_state s;
                constexpr int producers = 4, per_producer = 100;
                s.total = producers * per_producer;
                std::vector<weft::task_handle<void>> consumers, producers_;
                for (int i = 0; i < 12; ++i)
                    consumers.push_back(weft::create_task(consumer(&s)));
                for (int i = 0; i < producers; ++i)
                    producers_.push_back(weft::create_task(producer(&s, per_producer)));
                // Cancel every other consumer while notifications fly: one
                // notified and then cancelled must pass its notification on.
                co_await weft::yield_now();
                for (std::size_t i = 0; i < consumers.size(); i += 2)
                    consumers[i].cancel();
                for (auto& p : producers_)
                    co_await p;
                for (auto& c : consumers) {
                    try {
                        co_await c;
                    } catch (const weft::cancelled_error&) {
                    }
                }
                EXPECT_EQ(s.taken, s.total) << "round " << round;
                EXPECT_EQ(s.available, 0) << "round " << round;
                EXPECT_FALSE(s.cond.locked());
            }
        }(),
        {.threads = 4});
}

TEST(ConditionStress, MutualExclusionHoldsAcrossWaits) {
    // Every wait() gives the lock up and takes it back: the lock must still
    // exclude everyone else around each wake-up.
    weft::run(
        []() -> weft::task<void> {
            weft::condition cond;
            std::atomic<int> inside{0};
            long turns = 0;  // under cond's lock
            std::vector<weft::task_handle<void>> ts;
            constexpr int tasks = 8, rounds = 500;
            for (int i = 0; i < tasks; ++i) {
                ts.push_back(weft::create_task([](weft::condition* c, std::atomic<int>* in,
                                                  long* tn, int me) -> weft::task<void> {
                    for (int r = 0; r < rounds; ++r) {
                        auto held = co_await c->scoped();
                        EXPECT_EQ(in->fetch_add(1), 0) << "two holders at once";
                        in->fetch_sub(1);
                        // Take turns: wait until it is our turn (or everyone
                        // else is done), then hand the turn on.
                        co_await c->wait_for(
                            [&] { return *tn % tasks == me || *tn >= tasks * rounds; });
                        EXPECT_EQ(in->fetch_add(1), 0) << "two holders after a wait";
                        ++*tn;
                        in->fetch_sub(1);
                        c->notify_all();
                    }
                }(&cond, &inside, &turns, i)));
            }
            for (auto& t : ts)
                co_await t;
            EXPECT_EQ(turns, tasks * rounds);
        }(),
        {.threads = 4});
}

}  // namespace
