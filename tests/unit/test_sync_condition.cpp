// condition: asyncio's (3.13) behaviour, error paths, cancellation. The
// traces in comments are CPython 3.13's for the same program.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

using log_t = std::vector<std::string>;

weft::task<void> waiter(std::string name, weft::condition* cond, log_t* log) {
    auto held = co_await cond->scoped();
    log->push_back(name + " waiting");
    try {
        co_await cond->wait();
    } catch (const weft::cancelled_error&) {
        log->push_back(name + " cancelled, holds lock " + (cond->locked() ? "True" : "False"));
        throw;
    }
    log->push_back(name + " woke");
}

TEST(Condition, WaitAndNotifyWithoutTheLockRaise) {
    weft::run([]() -> weft::task<void> {
        weft::condition cond;
        try {
            co_await cond.wait();
            ADD_FAILURE() << "wait without the lock must raise";
        } catch (const std::logic_error& e) {
            EXPECT_NE(std::string(e.what()).find("cannot wait on un-acquired lock"),
                      std::string::npos);
        }
        try {
            cond.notify();
            ADD_FAILURE() << "notify without the lock must raise";
        } catch (const std::logic_error& e) {
            EXPECT_NE(std::string(e.what()).find("cannot notify on un-acquired lock"),
                      std::string::npos);
        }
        EXPECT_THROW(cond.notify_all(), std::logic_error);
        EXPECT_THROW(co_await cond.wait_for([] { return false; }), std::logic_error);
        // A predicate that holds already needs no lock, as in asyncio.
        EXPECT_EQ(co_await cond.wait_for([] { return 7; }), 7);
        EXPECT_THROW(cond.release(), std::logic_error);
        co_await cond.acquire();
        EXPECT_TRUE(cond.locked());
        cond.notify(3);  // nobody waits: nothing happens
        cond.notify_all();
        cond.release();
        EXPECT_FALSE(cond.locked());
    }());
}

TEST(Condition, NotifyWakesTheLongestWaitingFirst) {
    weft::run([]() -> weft::task<void> {
        weft::condition cond;
        log_t log;
        std::vector<weft::task_handle<void>> ts;
        for (const char* n : {"A", "B", "C", "D"}) {
            ts.push_back(weft::create_task(waiter(n, &cond, &log)));
            co_await weft::sleep(0.001);  // queue them one by one in any mode
        }
        {
            auto held = co_await cond.scoped();
            cond.notify(2);
        }
        co_await ts[0];
        co_await ts[1];
        EXPECT_FALSE(ts[2].done());
        {
            auto held = co_await cond.scoped();
            cond.notify_all();
        }
        co_await ts[2];
        co_await ts[3];
        // notify(2) picked A and B; in Go mode they may run in either order.
        if (log.size() == 8) {
            std::sort(log.begin() + 4, log.begin() + 6);
            std::sort(log.begin() + 6, log.end());
        }
        EXPECT_EQ(log, (log_t{"A waiting", "B waiting", "C waiting", "D waiting", "A woke",
                              "B woke", "C woke", "D woke"}));
    }());
}

TEST(Condition, BoundToALockItDoesNotOwn) {
    weft::run([]() -> weft::task<void> {
        weft::lock l;
        weft::condition cond(l);
        EXPECT_EQ(&cond.get_lock(), &l);
        int ready = 0;
        auto t =
            weft::create_task([](weft::lock* lk, weft::condition* c, int* r) -> weft::task<int> {
                auto held = co_await lk->scoped();
                co_return co_await c->wait_for([r] { return *r; });
            }(&l, &cond, &ready));
        co_await weft::sleep(0.001);
        {
            auto held = co_await l.scoped();
            EXPECT_TRUE(cond.locked());
            ready = 5;
            cond.notify();
        }
        EXPECT_EQ(co_await t, 5);
        EXPECT_FALSE(l.locked());
    }());
}

// asyncio 3.13: ['n=1', 'n=2', 'wait_for -> 2', 'n=3']
TEST(Condition, WaitForReturnsThePredicatesValue) {
    weft::run(
        []() -> weft::task<void> {
            weft::condition cond;
            log_t log;
            int n = 0;
            auto t =
                weft::create_task([](weft::condition* c, int* np, log_t* lg) -> weft::task<void> {
                    auto held = co_await c->scoped();
                    int r = co_await c->wait_for([np] { return *np >= 2 ? *np : 0; });
                    lg->push_back("wait_for -> " + std::to_string(r));
                }(&cond, &n, &log));
            for (int i = 0; i < 3; ++i) {
                co_await weft::sleep(0);
                auto held = co_await cond.scoped();
                ++n;
                log.push_back("n=" + std::to_string(n));
                cond.notify_all();
            }
            co_await t;
            EXPECT_EQ(log, (log_t{"n=1", "n=2", "wait_for -> 2", "n=3"}));
        }(),
        {.threads = 1});
}

// asyncio 3.13: ['A waiting', 'B waiting', 'main still holds, a done False',
// 'A cancelled, holds lock True', 'B woke', 'A raised CancelledError']
// (3.13 passes a notification on when a wait fails: B wakes spuriously.)
TEST(Condition, ACancelledWaitReacquiresTheLockBeforeRaising) {
    weft::run(
        []() -> weft::task<void> {
            weft::condition cond;
            log_t log;
            auto a = weft::create_task(waiter("A", &cond, &log));
            auto b = weft::create_task(waiter("B", &cond, &log));
            co_await weft::sleep(0);
            {
                auto held = co_await cond.scoped();
                a.cancel();
                co_await weft::sleep(0);
                co_await weft::sleep(0);
                log.push_back(std::string("main still holds, a done ") +
                              (a.done() ? "True" : "False"));
            }
            try {
                co_await a;
            } catch (const weft::cancelled_error&) {
                log.push_back("A raised CancelledError");
            }
            {
                auto held = co_await cond.scoped();
                cond.notify();
            }
            co_await b;
            EXPECT_EQ(log,
                      (log_t{"A waiting", "B waiting", "main still holds, a done False",
                             "A cancelled, holds lock True", "B woke", "A raised CancelledError"}));
            EXPECT_FALSE(cond.locked());
        }(),
        {.threads = 1});
}

// asyncio 3.13: ['A waiting', 'B waiting', 'C waiting', 'main releasing', 'A cancelled',
// 'B woke', 'A True B True C False', 'C woke']
TEST(Condition, ANotifiedWaiterCancelledBeforeItRunsPassesTheNotificationOn) {
    weft::run(
        []() -> weft::task<void> {
            weft::condition cond;
            log_t log;
            std::vector<weft::task_handle<void>> ts;
            for (const char* n : {"A", "B", "C"})
                ts.push_back(weft::create_task(waiter(n, &cond, &log)));
            co_await weft::sleep(0);
            {
                auto held = co_await cond.scoped();
                cond.notify(1);  // A...
                ts[0].cancel();  // ...cancelled before it runs
                log.push_back("main releasing");
            }
            co_await weft::sleep(0.01);
            log.push_back(std::string("A ") + (ts[0].cancelled() ? "True" : "False") + " B " +
                          (ts[1].done() ? "True" : "False") + " C " +
                          (ts[2].done() ? "True" : "False"));
            {
                auto held = co_await cond.scoped();
                cond.notify_all();
            }
            for (auto& t : ts) {
                try {
                    co_await t;
                } catch (const weft::cancelled_error&) {
                }
            }
            // The waiter's own log line for A says "cancelled, holds lock True".
            EXPECT_EQ(log, (log_t{"A waiting", "B waiting", "C waiting", "main releasing",
                                  "A cancelled, holds lock True", "B woke", "A True B True C False",
                                  "C woke"}));
        }(),
        {.threads = 1});
}

TEST(Condition, ACancelPendingBeforeWaitStillReleasesAndReacquires) {
    weft::run(
        []() -> weft::task<void> {
            weft::condition cond;
            log_t log;
            co_await cond.acquire();
            // Another task queues for the lock while we hold it.
            auto other = weft::create_task([](weft::condition* c, log_t* lg) -> weft::task<void> {
                auto held = co_await c->scoped();
                lg->push_back("other has the lock");
            }(&cond, &log));
            co_await weft::sleep(0);
            weft::current_task().cancel();
            try {
                co_await cond.wait();  // releases (other gets the lock), re-acquires, raises
                ADD_FAILURE();
            } catch (const weft::cancelled_error&) {
                log.push_back(std::string("cancelled, locked ") +
                              (cond.locked() ? "True" : "False"));
            }
            cond.release();
            co_await other;
            EXPECT_EQ(log, (log_t{"other has the lock", "cancelled, locked True"}));
        }(),
        {.threads = 1});
}

}  // namespace
