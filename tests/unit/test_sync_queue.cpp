// queue, priority_queue, lifo_queue: asyncio's (3.13) behaviour, error
// paths, cancellation, shutdown. The traces in comments are CPython 3.13's
// for the same program.
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

using log_t = std::vector<std::string>;

weft::task<void> getter(std::string name, weft::queue<int>* q, log_t* log) {
    log->push_back(name + " get");
    int v = co_await q->get();
    log->push_back(name + " got " + std::to_string(v));
}

weft::task<void> putter(std::string name, weft::queue<int>* q, int v, log_t* log) {
    log->push_back(name + " put");
    co_await q->put(v);
    log->push_back(name + " put done");
}

TEST(Queue, SizesAndTheNowaitErrors) {
    weft::run([]() -> weft::task<void> {
        weft::queue<int> q(2);
        EXPECT_EQ(q.maxsize(), 2u);
        EXPECT_TRUE(q.empty());
        EXPECT_FALSE(q.full());
        try {
            q.get_nowait();
            ADD_FAILURE() << "get_nowait on an empty queue must raise";
        } catch (const weft::queue_empty& e) {
            EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos);
        }
        q.put_nowait(1);
        co_await q.put(2);
        EXPECT_EQ(q.qsize(), 2u);
        EXPECT_TRUE(q.full());
        try {
            q.put_nowait(3);
            ADD_FAILURE() << "put_nowait on a full queue must raise";
        } catch (const weft::queue_full& e) {
            EXPECT_NE(std::string(e.what()).find("full (maxsize 2)"), std::string::npos);
        }
        EXPECT_EQ(q.qsize(), 2u);  // nothing was added
        EXPECT_EQ(q.get_nowait(), 1);
        EXPECT_EQ(co_await q.get(), 2);
        EXPECT_TRUE(q.empty());

        weft::queue<int> unbounded;
        for (int i = 0; i < 1000; ++i)
            unbounded.put_nowait(i);
        EXPECT_FALSE(unbounded.full());
        EXPECT_EQ(unbounded.qsize(), 1000u);
        for (int i = 0; i < 1000; ++i)
            EXPECT_EQ(co_await unbounded.get(), i);
    }());
}

TEST(Queue, TaskDoneAndJoin) {
    weft::run([]() -> weft::task<void> {
        weft::queue<int> q;
        co_await q.join();  // nothing put: returns at once
        try {
            q.task_done();
            ADD_FAILURE() << "task_done without a put must raise";
        } catch (const std::logic_error& e) {
            EXPECT_NE(std::string(e.what()).find("called too many times"), std::string::npos);
        }
        q.put_nowait(1);
        q.put_nowait(2);
        auto j = weft::create_task(q.join());
        co_await weft::sleep(0.001);
        EXPECT_FALSE(j.done());
        q.get_nowait();
        q.task_done();
        co_await weft::sleep(0.001);
        EXPECT_FALSE(j.done());
        q.get_nowait();
        q.task_done();
        co_await j;
        EXPECT_THROW(q.task_done(), std::logic_error);
    }());
}

// asyncio: ['one done', 'J1 joined', 'J2 joined']
TEST(Queue, JoinWakesEveryJoinerInOrder) {
    weft::run(
        []() -> weft::task<void> {
            weft::queue<int> q;
            log_t log;
            auto joiner = [](weft::queue<int>* qq, std::string name,
                             log_t* lg) -> weft::task<void> {
                co_await qq->join();
                lg->push_back(name + " joined");
            };
            q.put_nowait(1);
            q.put_nowait(2);
            auto j1 = weft::create_task(joiner(&q, "J1", &log));
            auto j2 = weft::create_task(joiner(&q, "J2", &log));
            co_await weft::sleep(0);
            q.get_nowait();
            q.task_done();
            co_await weft::sleep(0);
            log.push_back("one done");
            q.get_nowait();
            q.task_done();
            co_await j1;
            co_await j2;
            EXPECT_EQ(log, (log_t{"one done", "J1 joined", "J2 joined"}));
        }(),
        {.threads = 1});
}

// asyncio: ['A get', 'B get', 'stolen 1 qsize 0', 'B got 2', 'A got 3']
TEST(Queue, AWokenGetterOvertakenByANewcomerWaitsAgainAtTheBack) {
    weft::run(
        []() -> weft::task<void> {
            weft::queue<int> q;
            log_t log;
            auto a = weft::create_task(getter("A", &q, &log));
            auto b = weft::create_task(getter("B", &q, &log));
            co_await weft::sleep(0);
            q.put_nowait(1);              // wakes A...
            int stolen = q.get_nowait();  // ...but main takes the item before A runs
            log.push_back("stolen " + std::to_string(stolen) + " qsize " +
                          std::to_string(q.qsize()));
            co_await weft::sleep(0);  // A finds nothing and queues behind B
            q.put_nowait(2);          // wakes B
            q.put_nowait(3);          // wakes A
            co_await a;
            co_await b;
            EXPECT_EQ(log, (log_t{"A get", "B get", "stolen 1 qsize 0", "B got 2", "A got 3"}));
        }(),
        {.threads = 1});
}

// asyncio: ['A get', 'B get', 'B got 1', 'a cancelled True b done True']
TEST(Queue, AWokenGetterCancelledBeforeItRunsPassesTheItemOn) {
    weft::run(
        []() -> weft::task<void> {
            weft::queue<int> q;
            log_t log;
            auto a = weft::create_task(getter("A", &q, &log));
            auto b = weft::create_task(getter("B", &q, &log));
            co_await weft::sleep(0);
            q.put_nowait(1);  // wakes A
            a.cancel();       // before A runs
            co_await weft::sleep(0);
            co_await weft::sleep(0);
            log.push_back(std::string("a cancelled ") + (a.cancelled() ? "True" : "False") +
                          " b done " + (b.done() ? "True" : "False"));
            co_await b;
            EXPECT_EQ(log, (log_t{"A get", "B get", "B got 1", "a cancelled True b done True"}));
        }(),
        {.threads = 1});
}

// asyncio: ['A put', 'B put', 'got 0', 'got 9', 'B put done', 'got 2', 'A put done', 'got 1']
TEST(Queue, BlockedPuttersWakeInFifoOrderAndReCheck) {
    weft::run(
        []() -> weft::task<void> {
            weft::queue<int> q(1);
            log_t log;
            q.put_nowait(0);
            auto a = weft::create_task(putter("A", &q, 1, &log));
            auto b = weft::create_task(putter("B", &q, 2, &log));
            co_await weft::sleep(0);
            log.push_back("got " + std::to_string(q.get_nowait()));  // wakes A
            q.put_nowait(9);                                         // takes the slot before A runs
            co_await weft::sleep(0);
            log.push_back("got " + std::to_string(q.get_nowait()));  // wakes B
            co_await weft::sleep(0);
            log.push_back("got " + std::to_string(q.get_nowait()));
            co_await a;
            co_await b;
            log.push_back("got " + std::to_string(q.get_nowait()));
            EXPECT_EQ(log, (log_t{"A put", "B put", "got 0", "got 9", "B put done", "got 2",
                                  "A put done", "got 1"}));
        }(),
        {.threads = 1});
}

TEST(Queue, CancelledWaitsLoseNothing) {
    weft::run([]() -> weft::task<void> {
        weft::queue<int> q(1);
        log_t log;
        // A getter cancelled while waiting: the next item goes to the next getter.
        auto a = weft::create_task(getter("A", &q, &log));
        co_await weft::sleep(0.001);
        auto b = weft::create_task(getter("B", &q, &log));
        co_await weft::sleep(0.001);
        a.cancel();
        EXPECT_THROW(co_await a, weft::cancelled_error);
        q.put_nowait(7);
        co_await b;
        EXPECT_EQ(log.back(), "B got 7");
        // A putter cancelled while waiting: its item never goes in.
        q.put_nowait(1);
        auto p = weft::create_task(putter("P", &q, 2, &log));
        co_await weft::sleep(0.001);
        p.cancel();
        EXPECT_THROW(co_await p, weft::cancelled_error);
        EXPECT_EQ(q.qsize(), 1u);
        EXPECT_EQ(q.get_nowait(), 1);
        // A cancel pending before put or get raises before anything moves.
        auto c = weft::create_task([](weft::queue<int>* qq) -> weft::task<void> {
            weft::current_task().cancel();
            co_await qq->put(5);
        }(&q));
        EXPECT_THROW(co_await c, weft::cancelled_error);
        EXPECT_TRUE(q.empty());
        q.put_nowait(6);
        auto d = weft::create_task([](weft::queue<int>* qq) -> weft::task<int> {
            weft::current_task().cancel();
            co_return co_await qq->get();
        }(&q));
        EXPECT_THROW(co_await d, weft::cancelled_error);
        EXPECT_EQ(q.get_nowait(), 6);
    }());
}

TEST(Queue, MoveOnlyItems) {
    weft::run([]() -> weft::task<void> {
        weft::queue<std::unique_ptr<int>> q(1);
        co_await q.put(std::make_unique<int>(1));
        auto t = weft::create_task([](weft::queue<std::unique_ptr<int>>* qq) -> weft::task<void> {
            co_await qq->put(std::make_unique<int>(2));  // waits for room
        }(&q));
        std::unique_ptr<int> a = co_await q.get();
        std::unique_ptr<int> b = co_await q.get();
        co_await t;
        EXPECT_EQ(*a, 1);
        EXPECT_EQ(*b, 2);
        weft::lifo_queue<std::unique_ptr<int>> l;
        l.put_nowait(std::make_unique<int>(3));
        EXPECT_EQ(*l.get_nowait(), 3);
        weft::priority_queue<std::unique_ptr<int>,
                             bool (*)(const std::unique_ptr<int>&, const std::unique_ptr<int>&)>
            pq(0, [](const std::unique_ptr<int>& x, const std::unique_ptr<int>& y) {
                return *x < *y;
            });
        pq.put_nowait(std::make_unique<int>(9));
        pq.put_nowait(std::make_unique<int>(4));
        EXPECT_EQ(*(co_await pq.get()), 4);
        EXPECT_EQ(*pq.get_nowait(), 9);
    }());
}

struct prio {
    int p;
    std::string name;
};
bool by_priority(const prio& a, const prio& b) {
    return a.p < b.p;
}

// asyncio.PriorityQueue of objects compared by priority alone: ties come out
// in heapq's order. asyncio: ['i','g','b','d','f','k','c','h','a','e','j'] and,
// interleaving a get after every third put,
// ['b','d','i','g','f','k','h','c','j','e','a'].
TEST(PriorityQueue, SmallestFirstWithHeapqsOrderAmongEquals) {
    weft::run([]() -> weft::task<void> {
        const std::vector<prio> items{{5, "a"}, {1, "b"}, {3, "c"}, {1, "d"}, {5, "e"}, {2, "f"},
                                      {1, "g"}, {3, "h"}, {0, "i"}, {5, "j"}, {2, "k"}};
        weft::priority_queue<prio, bool (*)(const prio&, const prio&)> pq(0, &by_priority);
        for (const prio& it : items)
            pq.put_nowait(it);
        std::string out;
        while (!pq.empty())
            out += pq.get_nowait().name;
        EXPECT_EQ(out, "igbdfkchaej");
        out.clear();
        for (std::size_t i = 0; i < items.size(); ++i) {
            co_await pq.put(items[i]);
            if (i % 3 == 2) out += (co_await pq.get()).name;
        }
        while (!pq.empty())
            out += pq.get_nowait().name;
        EXPECT_EQ(out, "bdigfkhcjea");

        weft::priority_queue<int> ints;  // std::less: smallest first
        for (int v : {3, 1, 2})
            ints.put_nowait(v);
        EXPECT_EQ(ints.get_nowait(), 1);
        weft::priority_queue<int, std::greater<int>> largest;
        for (int v : {3, 1, 2})
            largest.put_nowait(v);
        EXPECT_EQ(largest.get_nowait(), 3);
    }());
}

TEST(PriorityQueue, AThrowingComparatorLeavesTheQueueIntact) {
    weft::run([]() -> weft::task<void> {
        bool fail = false;
        auto cmp = [&fail](int a, int b) {
            if (fail) throw std::runtime_error("compare");
            return a < b;
        };
        weft::priority_queue<int, decltype(cmp)> pq(0, cmp);
        for (int v : {5, 3, 8, 1})
            pq.put_nowait(v);
        fail = true;
        EXPECT_THROW(pq.put_nowait(0), std::runtime_error);
        EXPECT_THROW(pq.get_nowait(), std::runtime_error);
        EXPECT_EQ(pq.qsize(), 4u);
        fail = false;
        std::vector<int> out;
        while (!pq.empty())
            out.push_back(pq.get_nowait());
        EXPECT_EQ(out, (std::vector<int>{1, 3, 5, 8}));
        co_return;
    }());
}

TEST(LifoQueue, LastInFirstOut) {
    weft::run([]() -> weft::task<void> {
        weft::lifo_queue<int> q(4);
        for (int i = 0; i < 4; ++i)
            co_await q.put(i);
        EXPECT_TRUE(q.full());
        std::vector<int> out;
        for (int i = 0; i < 4; ++i)
            out.push_back(co_await q.get());
        EXPECT_EQ(out, (std::vector<int>{3, 2, 1, 0}));
    }());
}

// asyncio 3.13: ['G0 QueueShutDown', 'G1 QueueShutDown', 'put_nowait QueueShutDown',
// 'get_nowait QueueShutDown']
TEST(Queue, ShutdownWakesGettersAndPuttersWithQueueShutDown) {
    weft::run([]() -> weft::task<void> {
        weft::queue<int> q(2);
        auto shut_getter = [](weft::queue<int>* qq) -> weft::task<bool> {
            try {
                co_await qq->get();
            } catch (const weft::queue_shut_down&) {
                co_return true;
            }
            co_return false;
        };
        auto g0 = weft::create_task(shut_getter(&q));
        auto g1 = weft::create_task(shut_getter(&q));
        co_await weft::sleep(0.001);
        q.shutdown();
        EXPECT_TRUE(co_await g0);
        EXPECT_TRUE(co_await g1);
        EXPECT_THROW(q.put_nowait(1), weft::queue_shut_down);
        EXPECT_THROW(co_await q.put(1), weft::queue_shut_down);
        EXPECT_THROW(q.get_nowait(), weft::queue_shut_down);
        EXPECT_THROW(co_await q.get(), weft::queue_shut_down);
    }());
}

// asyncio 3.13: ['P put QueueShutDown', 'qsize 2', 'G1 got 1', 'G2 got 2', 'G3 QueueShutDown']
TEST(Queue, ShutdownLetsGettersDrainWhatIsLeft) {
    weft::run([]() -> weft::task<void> {
        weft::queue<int> q(2);
        q.put_nowait(1);
        q.put_nowait(2);
        auto p = weft::create_task([](weft::queue<int>* qq) -> weft::task<void> {
            co_await qq->put(3);  // full: waits, then finds the queue shut down
        }(&q));
        co_await weft::sleep(0.001);
        q.shutdown();
        EXPECT_THROW(co_await p, weft::queue_shut_down);
        EXPECT_EQ(q.qsize(), 2u);
        EXPECT_EQ(co_await q.get(), 1);
        EXPECT_EQ(q.get_nowait(), 2);
        try {
            co_await q.get();
            ADD_FAILURE();
        } catch (const weft::queue_shut_down& e) {
            EXPECT_NE(std::string(e.what()).find("shut down"), std::string::npos);
        }
    }());
}

// asyncio 3.13: ['qsize 0 unfinished 1', 'join done False', 'joined', 'ValueError']
TEST(Queue, ImmediateShutdownDropsItemsAndCountsThemDone) {
    weft::run([]() -> weft::task<void> {
        weft::queue<std::shared_ptr<int>> q;
        auto tracked = std::make_shared<int>(0);
        for (int i = 0; i < 3; ++i)
            q.put_nowait(tracked);
        q.get_nowait();  // taken, not done
        auto j = weft::create_task(q.join());
        co_await weft::sleep(0.001);
        q.shutdown(true);
        EXPECT_EQ(q.qsize(), 0u);
        EXPECT_EQ(tracked.use_count(), 1) << "the dropped items are destroyed";
        co_await weft::sleep(0.001);
        EXPECT_FALSE(j.done());
        q.task_done();  // the one taken before the shutdown
        co_await j;
        EXPECT_THROW(q.task_done(), std::logic_error);
    }());
}

TEST(Queue, WaitersTornDownAtLoopCloseLeaveTheQueue) {
    weft::queue<int> empty_q, full_q(1);
    full_q.put_nowait(1);
    weft::run([](weft::queue<int>* eq, weft::queue<int>* fq) -> weft::task<void> {
        // Neither ever gets what it waits for: both are torn down when the
        // loop closes, with the main task done.
        weft::create_task([](weft::queue<int>* q) -> weft::task<void> { co_await q->get(); }(eq));
        weft::create_task([](weft::queue<int>* q) -> weft::task<void> { co_await q->put(2); }(fq));
        co_await weft::sleep(0.001);
    }(&empty_q, &full_q));
    // Both waits left the lists when their frames died: the queues still work.
    empty_q.put_nowait(5);
    EXPECT_EQ(empty_q.get_nowait(), 5);
    EXPECT_EQ(full_q.get_nowait(), 1);
    full_q.put_nowait(6);
    EXPECT_EQ(full_q.qsize(), 1u);
}

TEST(Queue, DestroyedUnderAWaiterRaisesInIt) {
    weft::run([]() -> weft::task<void> {
        auto q = std::make_unique<weft::queue<int>>();
        auto t = weft::create_task(
            [](weft::queue<int>* qq) -> weft::task<void> { co_await qq->get(); }(q.get()));
        co_await weft::sleep(0.001);
        q.reset();
        try {
            co_await t;
            ADD_FAILURE() << "the waiter must fail";
        } catch (const std::logic_error& e) {
            EXPECT_NE(std::string(e.what()).find("destroyed"), std::string::npos) << e.what();
        }
    }());
}

}  // namespace
