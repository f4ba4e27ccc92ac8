// semaphore and bounded_semaphore: asyncio's (3.13) behaviour, error paths,
// cancellation. The traces in comments are CPython's for the same program.
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

using log_t = std::vector<std::string>;

weft::task<void> acquirer(std::string name, weft::semaphore* s, log_t* log) {
    log->push_back(name + " acquire");
    co_await s->acquire();
    log->push_back(name + " got");
}

TEST(Semaphore, CountsPermitsAndChecksItsArguments) {
    weft::run([]() -> weft::task<void> {
        weft::semaphore s(2);
        EXPECT_EQ(s.value(), 2u);
        EXPECT_FALSE(s.locked());
        EXPECT_TRUE(co_await s.acquire());
        EXPECT_TRUE(s.try_acquire());
        EXPECT_EQ(s.value(), 0u);
        EXPECT_TRUE(s.locked());
        EXPECT_FALSE(s.try_acquire());
        s.release();
        {
            auto held = co_await s.scoped();
            EXPECT_TRUE(held.owns_permit());
            EXPECT_EQ(s.value(), 0u);
        }
        EXPECT_EQ(s.value(), 1u);
        s.release();
        s.release();  // a plain semaphore may go above its initial value
        EXPECT_EQ(s.value(), 3u);
        weft::semaphore zero(0);
        EXPECT_TRUE(zero.locked());
    }());
    try {
        weft::semaphore bad(-1);
        ADD_FAILURE() << "a negative initial value must raise";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("must be >= 0"), std::string::npos) << e.what();
    }
}

TEST(Semaphore, BoundedRaisesOnReleaseWithoutAcquire) {
    weft::run([]() -> weft::task<void> {
        weft::bounded_semaphore s(1);
        try {
            s.release();
            ADD_FAILURE() << "over-release must raise";
        } catch (const std::logic_error& e) {
            EXPECT_NE(std::string(e.what()).find("released too many times"), std::string::npos);
        }
        EXPECT_EQ(s.value(), 1u);  // nothing changed
        co_await s.acquire();
        s.release();
        EXPECT_THROW(s.release(), std::logic_error);
        { auto held = co_await s.scoped(); }
        EXPECT_EQ(s.value(), 1u);
    }());
}

TEST(Semaphore, WaitersGetPermitsInFifoOrder) {
    weft::run([]() -> weft::task<void> {
        weft::semaphore s(0);
        log_t log;
        std::vector<weft::task_handle<void>> ts;
        for (const char* n : {"A", "B", "C"}) {
            ts.push_back(weft::create_task(acquirer(n, &s, &log)));
            co_await weft::sleep(0.001);  // queue them one by one in any mode
        }
        for (int i = 0; i < 3; ++i) {
            s.release();
            co_await ts[static_cast<std::size_t>(i)];
        }
        EXPECT_EQ(log, (log_t{"A acquire", "B acquire", "C acquire", "A got", "B got", "C got"}));
        EXPECT_EQ(s.value(), 0u);
    }());
}

// asyncio: ['A acquire', 'locked True value 1', 'A got', 'main got', 'value 0 locked True']
TEST(Semaphore, AWaiterHandedAPermitKeepsNewcomersBehindIt) {
    weft::run(
        []() -> weft::task<void> {
            weft::semaphore s(0);
            log_t log;
            auto a = weft::create_task(acquirer("A", &s, &log));
            co_await weft::sleep(0);
            s.release();  // handed to A, which has not run yet
            s.release();  // nobody else waits: one permit free
            log.push_back("locked " + std::string(s.locked() ? "True" : "False") + " value " +
                          std::to_string(s.value()));
            co_await s.acquire();  // waits: A is ahead; A wakes us when it runs
            log.push_back("main got");
            co_await a;
            log.push_back("value " + std::to_string(s.value()) + " locked " +
                          (s.locked() ? "True" : "False"));
            EXPECT_EQ(log, (log_t{"A acquire", "locked True value 1", "A got", "main got",
                                  "value 0 locked True"}));
        }(),
        {.threads = 1});
}

// asyncio: ['B acquire', 'C acquire', 'C got', 'B cancelled', 'value 0', 'value 1']
TEST(Semaphore, CancelledAfterBeingHandedAPermitPassesItOn) {
    weft::run(
        []() -> weft::task<void> {
            weft::semaphore s(1);
            log_t log;
            co_await s.acquire();
            auto b = weft::create_task(acquirer("B", &s, &log));
            auto c = weft::create_task(acquirer("C", &s, &log));
            co_await weft::sleep(0);
            s.release();  // to B...
            b.cancel();   // ...cancelled before it runs: it must go to C
            try {
                co_await b;
            } catch (const weft::cancelled_error&) {
                log.push_back("B cancelled");
            }
            co_await c;
            log.push_back("value " + std::to_string(s.value()));
            s.release();
            log.push_back("value " + std::to_string(s.value()));
            EXPECT_EQ(log, (log_t{"B acquire", "C acquire", "C got", "B cancelled", "value 0",
                                  "value 1"}));
        }(),
        {.threads = 1});
}

TEST(Semaphore, ACancelledWaiterLeavesAndLosesNoPermit) {
    weft::run([]() -> weft::task<void> {
        weft::semaphore s(0);
        log_t log;
        auto a = weft::create_task(acquirer("A", &s, &log));
        co_await weft::sleep(0.001);
        auto b = weft::create_task(acquirer("B", &s, &log));
        co_await weft::sleep(0.001);
        a.cancel("stop");
        try {
            co_await a;
            ADD_FAILURE();
        } catch (const weft::cancelled_error& e) {
            EXPECT_EQ(e.message(), "stop");
        }
        EXPECT_FALSE(b.done());
        s.release();
        co_await b;
        EXPECT_EQ(s.value(), 0u);
        s.release();
        EXPECT_EQ(s.value(), 1u);
        EXPECT_FALSE(s.locked());
    }());
}

TEST(Semaphore, ACancelPendingBeforeAcquireRaisesAndTakesNothing) {
    weft::run([]() -> weft::task<void> {
        weft::semaphore s(1);
        auto t = weft::create_task([](weft::semaphore* sem) -> weft::task<void> {
            weft::current_task().cancel();
            co_await sem->acquire();
        }(&s));
        EXPECT_THROW(co_await t, weft::cancelled_error);
        EXPECT_EQ(s.value(), 1u);
        weft::semaphore none(0);
        auto u = weft::create_task([](weft::semaphore* sem) -> weft::task<void> {
            weft::current_task().cancel();
            co_await sem->acquire();  // would wait: the wait is cancelled at once
        }(&none));
        EXPECT_THROW(co_await u, weft::cancelled_error);
        none.release();
        EXPECT_EQ(none.value(), 1u);
    }());
}

}  // namespace
