// Queues hammered from several workers and plain threads at once (runs under
// ThreadSanitizer in CI): every item put comes out exactly once, none is
// lost when getters and putters are cancelled mid-wait, join() sees every
// task_done, and shutdown wakes everyone.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

constexpr int producers = 4, consumers = 4;

struct tally {
    explicit tally(int n) : seen(static_cast<std::size_t>(n)) {}
    void saw(int item) {
        ASSERT_GE(item, 0);
        ASSERT_LT(item, static_cast<int>(seen.size()));
        EXPECT_EQ(seen[static_cast<std::size_t>(item)].fetch_add(1), 0)
            << "item " << item << " twice";
    }
    int missing() const {
        int n = 0;
        for (auto& s : seen)
            n += s.load() == 0;
        return n;
    }
    std::vector<std::atomic<int>> seen;
};

template <class Q>
weft::task<void> produce(Q* q, int first, int count) {
    for (int i = first; i < first + count; ++i)
        co_await q->put(i);
}

// Takes items until the queue is shut down and drained.
template <class Q>
weft::task<void> consume(Q* q, tally* t) {
    for (;;) {
        int item;
        try {
            item = co_await q->get();
        } catch (const weft::queue_shut_down&) {
            co_return;
        }
        t->saw(item);
        q->task_done();
    }
}

template <class Q>
weft::task<void> mpmc(Q* q, tally* t, int each) {
    std::vector<weft::task_handle<void>> ps, cs;
    for (int i = 0; i < consumers; ++i)
        cs.push_back(weft::create_task(consume(q, t)));
    for (int i = 0; i < producers; ++i)
        ps.push_back(weft::create_task(produce(q, i * each, each)));
    for (auto& p : ps)
        co_await p;
    co_await q->join();  // every item taken and marked done
    q->shutdown();       // wakes the consumers waiting on the empty queue
    for (auto& c : cs)
        co_await c;
}

TEST(QueueStress, EveryItemExactlyOnceAcrossWorkers) {
    constexpr int each = 20000;
    tally t(producers * each);
    weft::run(
        [](tally* tl) -> weft::task<void> {
            weft::queue<int> q(8);  // small: putters and getters both wait often
            co_await mpmc(&q, tl, each);
            EXPECT_TRUE(q.empty());
        }(&t),
        {.threads = 4});
    EXPECT_EQ(t.missing(), 0);
}

TEST(QueueStress, PriorityAndLifoQueuesLoseNothingAcrossWorkers) {
    constexpr int each = 5000;
    tally a(producers * each), b(producers * each);
    weft::run(
        [](tally* ta, tally* tb) -> weft::task<void> {
            weft::priority_queue<int> pq(4);
            weft::lifo_queue<int> lq(4);
            auto x = weft::create_task(mpmc(&pq, ta, each));
            auto y = weft::create_task(mpmc(&lq, tb, each));
            co_await x;
            co_await y;
        }(&a, &b),
        {.threads = 4});
    EXPECT_EQ(a.missing(), 0);
    EXPECT_EQ(b.missing(), 0);
}

TEST(QueueStress, PlainThreadsFeedTasks) {
    // OS threads put with put_nowait (retrying while full), tasks on four
    // workers get: wake-ups cross from threads without a loop to workers.
    constexpr int threads = 3, each = 10000;
    tally t(threads * each);
    weft::queue<int> q(16);
    weft::run(
        [](weft::queue<int>* qq, tally* tl) -> weft::task<void> {
            std::vector<weft::task_handle<void>> cs;
            for (int i = 0; i < consumers; ++i)
                cs.push_back(weft::create_task(consume(qq, tl)));
            std::vector<std::thread> feeders;
            for (int f = 0; f < threads; ++f) {
                feeders.emplace_back([qq, f] {
                    for (int i = f * each; i < (f + 1) * each;) {
                        try {
                            qq->put_nowait(i);
                            ++i;
                        } catch (const weft::queue_full&) {
                            std::this_thread::yield();
                        }
                    }
                });
            }
            for (auto& f : feeders)
                f.join();  // blocks this worker only; the other three consume
            co_await qq->join();
            qq->shutdown();
            for (auto& c : cs)
                co_await c;
        }(&q, &t),
        {.threads = 4});
    EXPECT_EQ(t.missing(), 0);
}

TEST(QueueStress, CancelledGettersAndPuttersLoseNoItem) {
    // Rounds of: getters and putters wait on a small queue, a third of them
    // are cancelled while the other side wakes them, then the queue is shut
    // down to release whoever is left without a partner. Every item a putter
    // reports put is taken by a getter or still queued.
    weft::run(
        []() -> weft::task<void> {
            for (int round = 0; round < 500; ++round) {
                weft::queue<int> q(2);
                std::atomic<long> put_sum{0}, got_sum{0};
                std::vector<weft::task_handle<void>> ts;
                for (int i = 1; i <= 6; ++i) {
                    ts.push_back(weft::create_task(
                        [](weft::queue<int>* qq, std::atomic<long>* ps, int v) -> weft::task<void> {
                            co_await qq->put(v);
                            ps->fetch_add(v);
                        }(&q, &put_sum, i)));
                    ts.push_back(weft::create_task(
                        [](weft::queue<int>* qq, std::atomic<long>* gs) -> weft::task<void> {
                            gs->fetch_add(co_await qq->get());
                        }(&q, &got_sum)));
                }
                co_await weft::yield_now();
                for (std::size_t i = 0; i < ts.size(); i += 3)
                    ts[i].cancel();
                co_await weft::sleep(0.0005);
                q.shutdown();
                for (auto& t : ts) {
                    try {
                        co_await t;
                    } catch (const weft::cancelled_error&) {
                    } catch (const weft::queue_shut_down&) {
                    }
                }
                long left = 0;
                while (!q.empty())
                    left += q.get_nowait();
                EXPECT_EQ(put_sum.load(), got_sum.load() + left) << "round " << round;
            }
        }(),
        {.threads = 4});
}

}  // namespace
