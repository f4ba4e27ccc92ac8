// event and lock: asyncio's behaviour, error paths, cancellation.
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

TEST(Event, WaitOnASetEventDoesNotSuspendAndClearBlocksAgain) {
    weft::run([]() -> weft::task<void> {
        weft::event ev;
        EXPECT_FALSE(ev.is_set());
        ev.set();
        ev.set();  // idempotent
        EXPECT_TRUE(co_await ev.wait());
        ev.clear();
        EXPECT_FALSE(ev.is_set());
        auto t = weft::create_task(
            [](weft::event* e) -> weft::task<bool> { co_return co_await e->wait(); }(&ev));
        co_await weft::sleep(0.01);
        EXPECT_FALSE(t.done());
        ev.set();
        EXPECT_TRUE(co_await t);
    }());
}

TEST(Event, ACancelledWaiterLeavesAndOthersStillWake) {
    weft::run([]() -> weft::task<void> {
        weft::event ev;
        auto a =
            weft::create_task([](weft::event* e) -> weft::task<void> { co_await e->wait(); }(&ev));
        auto b =
            weft::create_task([](weft::event* e) -> weft::task<void> { co_await e->wait(); }(&ev));
        co_await weft::sleep(0.01);
        a.cancel("no longer");
        try {
            co_await a;
            ADD_FAILURE();
        } catch (const weft::cancelled_error& e) {
            EXPECT_EQ(e.message(), "no longer");
        }
        ev.set();
        co_await b;
        EXPECT_FALSE(b.cancelled());
    }());
}

TEST(Event, CancelPendingBeforeWaitingRaisesAtOnce) {
    weft::run([]() -> weft::task<void> {
        weft::event ev;
        auto t = weft::create_task([](weft::event* e) -> weft::task<void> {
            weft::current_task().cancel();
            co_await e->wait();  // suspending with a cancel pending: raises here
        }(&ev));
        EXPECT_THROW(co_await t, weft::cancelled_error);
    }());
}

TEST(Lock, UncontendedAcquireDoesNotSuspendAndReleaseChecksOwnership) {
    weft::run([]() -> weft::task<void> {
        weft::lock l;
        EXPECT_FALSE(l.locked());
        EXPECT_TRUE(co_await l.acquire());
        EXPECT_TRUE(l.locked());
        EXPECT_FALSE(l.try_acquire());
        l.release();
        EXPECT_FALSE(l.locked());
        try {
            l.release();
            ADD_FAILURE() << "releasing an unlocked lock must raise";
        } catch (const std::logic_error& e) {
            EXPECT_NE(std::string(e.what()).find("not acquired"), std::string::npos);
        }
        {
            auto held = co_await l.scoped();
            EXPECT_TRUE(held.owns_lock());
            EXPECT_TRUE(l.locked());
        }
        EXPECT_FALSE(l.locked());
    }());
}

TEST(Lock, ACancelledWaiterDoesNotLoseTheWakeUpOfTheNext) {
    weft::run([]() -> weft::task<void> {
        weft::lock l;
        co_await l.acquire();
        std::vector<std::string> order;
        auto waiter = [](weft::lock* lk, std::vector<std::string>* o,
                         std::string name) -> weft::task<void> {
            auto held = co_await lk->scoped();
            o->push_back(name);
        };
        // One at a time, so that they queue B, C, D in any mode.
        auto b = weft::create_task(waiter(&l, &order, "B"));
        co_await weft::sleep(0.01);
        auto c = weft::create_task(waiter(&l, &order, "C"));
        co_await weft::sleep(0.01);
        auto d = weft::create_task(waiter(&l, &order, "D"));
        co_await weft::sleep(0.01);
        c.cancel();  // queued behind B
        l.release();
        co_await b;
        EXPECT_THROW(co_await c, weft::cancelled_error);
        co_await d;
        EXPECT_EQ(order, (std::vector<std::string>{"B", "D"}));
        EXPECT_FALSE(l.locked());
    }());
}

TEST(Lock, CancelledAfterBeingHandedTheLockPassesItOn) {
    weft::run(
        []() -> weft::task<void> {
            weft::lock l;
            co_await l.acquire();
            auto b = weft::create_task([](weft::lock* lk) -> weft::task<void> {
                co_await lk->acquire();
                lk->release();
            }(&l));
            co_await weft::sleep(0.01);
            auto c = weft::create_task([](weft::lock* lk) -> weft::task<int> {
                auto held = co_await lk->scoped();
                co_return 1;
            }(&l));
            co_await weft::sleep(0.01);
            l.release();  // hands the lock to B, who has not run yet...
            b.cancel();   // ...and is cancelled before it does: it must pass it to C
            EXPECT_THROW(co_await b, weft::cancelled_error);
            EXPECT_EQ(co_await c, 1);
            EXPECT_FALSE(l.locked());
        }(),
        {.threads = 1});  // "before B runs" needs asyncio's order
}

}  // namespace
