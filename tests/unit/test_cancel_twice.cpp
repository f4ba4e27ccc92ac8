// Two cancels of a task suspended in an await, before it resumes, are one
// cancellation (asyncio: the second cancel() finds _must_cancel's delivery
// already on its way and only adds to cancelling()). The task sees one
// cancelled_error, with the first cancel's message; once it uncancels, its
// next await goes through. For every kind of await, in asyncio mode and in Go
// mode. In Go mode both cancels come from one step of the cancelling task:
// the first one's wake-up goes to that worker's runnext slot, which no other
// worker takes, so the second one lands before the waiter can resume. The I/O
// waits (a watched fd, a socket receive, a stream read) are among the kinds.
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

// What the cancelled task saw.
struct observed {
    std::string caught;       // the message of the cancelled_error it caught
    int cancelling = -1;      // cancelling() when it caught it
    int after_uncancel = -1;  // what uncancel() returned
    bool next_await_cancelled = false;
};

// Everything the awaits wait on, none of which ever comes.
struct blockers {
    weft::lock held;  // locked by the test
    weft::event never_set;
    weft::condition cond;
    weft::semaphore no_permits{0};
    weft::queue<int> empty;
    weft::queue<int> full{1};
    std::vector<weft::future<int>> futures;
    // I/O that never becomes ready: the peer ends stay open and silent.
    std::pair<weft::socket, weft::socket> watched = weft::socketpair();
    std::pair<weft::socket, weft::socket> received = weft::socketpair();
    std::pair<weft::socket, weft::socket> streamed = weft::socketpair();
    std::optional<std::pair<weft::stream_reader, weft::stream_writer>> stream;
};

enum class kind {
    sleep,
    lock,
    event,
    condition,
    semaphore,
    get,
    put,
    future,
    task,
    gather,
    wait,
    wait_for,
    timeout,
    readable,
    sock_recv,
    stream_read
};

const char* name_of(kind k) {
    switch (k) {
        case kind::sleep:
            return "sleep";
        case kind::lock:
            return "lock";
        case kind::event:
            return "event";
        case kind::condition:
            return "condition";
        case kind::semaphore:
            return "semaphore";
        case kind::get:
            return "queue_get";
        case kind::put:
            return "queue_put";
        case kind::future:
            return "future";
        case kind::task:
            return "task";
        case kind::gather:
            return "gather";
        case kind::wait:
            return "wait";
        case kind::wait_for:
            return "wait_for";
        case kind::timeout:
            return "timeout";
        case kind::readable:
            return "wait_readable";
        case kind::sock_recv:
            return "sock_recv";
        case kind::stream_read:
            return "stream_readline";
    }
    return "?";
}

weft::task<void> sleep_long() {
    co_await weft::sleep(30);
}

// One await of the given kind that would never end by itself.
weft::task<void> await_one(kind k, blockers* b) {
    switch (k) {
        case kind::sleep:
            co_await weft::sleep(30);
            break;
        case kind::lock:
            co_await b->held.acquire();
            break;
        case kind::event:
            co_await b->never_set.wait();
            break;
        case kind::condition: {
            auto held = co_await b->cond.scoped();
            co_await b->cond.wait();
            break;
        }
        case kind::semaphore:
            co_await b->no_permits.acquire();
            break;
        case kind::get:
            (void)co_await b->empty.get();
            break;
        case kind::put:
            co_await b->full.put(2);
            break;
        case kind::future: {
            b->futures.emplace_back(weft::get_running_loop());
            (void)co_await b->futures.back();
            break;
        }
        case kind::task:
            co_await weft::create_task(sleep_long());
            break;
        case kind::gather:
            co_await weft::gather(sleep_long());
            break;
        case kind::wait: {
            std::vector<weft::task_handle<void>> ts{weft::create_task(sleep_long())};
            co_await weft::wait(ts);
            break;
        }
        case kind::wait_for:
            co_await weft::wait_for(sleep_long(), 60.0);
            break;
        case kind::timeout: {
            weft::timeout_scope scope = weft::timeout(60.0);
            co_await scope.run(sleep_long());
            break;
        }
        case kind::readable:
            co_await weft::wait_readable(b->watched.first.fd());
            break;
        case kind::sock_recv:
            (void)co_await weft::sock_recv(b->received.first, 16);
            break;
        case kind::stream_read:
            b->stream.emplace(weft::open_stream(std::move(b->streamed.first)));
            (void)co_await b->stream->first.readline();
            break;
    }
}

weft::task<void> waiter(kind k, blockers* b, observed* out, std::atomic<bool>* waiting) {
    try {
        waiting->store(true);
        co_await await_one(k, b);
        ADD_FAILURE() << name_of(k) << ": the await ended without a cancel";
    } catch (const weft::cancelled_error& e) {
        out->caught = e.message();
        weft::task_ref self = weft::current_task();
        out->cancelling = self.cancelling();
        out->after_uncancel = self.uncancel();
    }
    try {
        co_await weft::sleep(0.01);
    } catch (const weft::cancelled_error&) {
        out->next_await_cancelled = true;
    }
}

class CancelTwice : public ::testing::TestWithParam<int> {};

TEST_P(CancelTwice, IsDeliveredOnceForEveryKindOfAwait) {
    for (kind k :
         {kind::sleep, kind::lock, kind::event, kind::condition, kind::semaphore, kind::get,
          kind::put, kind::future, kind::task, kind::gather, kind::wait, kind::wait_for,
          kind::timeout, kind::readable, kind::sock_recv, kind::stream_read}) {
        SCOPED_TRACE(name_of(k));
        observed seen;
        weft::run(
            [](kind which, observed* out) -> weft::task<void> {
                blockers b;
                b.full.put_nowait(1);
                co_await b.held.acquire();
                std::atomic<bool> waiting{false};
                auto t = weft::create_task(waiter(which, &b, out, &waiting));
                while (!waiting.load())
                    co_await weft::sleep(0.005);
                co_await weft::sleep(0.05);  // suspended by now
                EXPECT_TRUE(t.cancel("first"));
                EXPECT_TRUE(t.cancel("second"));  // in the same step: t cannot run between
                EXPECT_EQ(t.cancelling(), 2);
                co_await t;
                EXPECT_FALSE(t.cancelled());
                b.held.release();
            }(k, &seen),
            {.threads = GetParam()});
        EXPECT_EQ(seen.caught, "first");
        EXPECT_EQ(seen.cancelling, 2);
        EXPECT_EQ(seen.after_uncancel, 1);
        EXPECT_FALSE(seen.next_await_cancelled) << "the second cancel was delivered again";
    }
}

TEST_P(CancelTwice, ACancelAfterTheTaskSawTheFirstIsDeliveredAgain) {
    // The other side of the rule: a cancel that arrives once the task has
    // caught the first one is a new cancellation.
    int seen = weft::run(
        []() -> weft::task<int> {
            weft::event caught;
            weft::event go_on;
            auto t = weft::create_task([](weft::event* c, weft::event* g) -> weft::task<int> {
                int errors = 0;
                try {
                    co_await weft::sleep(30);
                } catch (const weft::cancelled_error&) {
                    ++errors;
                    weft::current_task().uncancel();
                }
                c->set();
                try {
                    co_await g->wait();
                } catch (const weft::cancelled_error&) {
                    ++errors;
                }
                co_return errors;
            }(&caught, &go_on));
            co_await weft::sleep(0.02);
            t.cancel();
            co_await caught.wait();
            t.cancel();
            co_return co_await t;
        }(),
        {.threads = GetParam()});
    EXPECT_EQ(seen, 2);
}

TEST_P(CancelTwice, TheAwaitedTaskIsCancelledTwiceAndSeesItOnce) {
    // asyncio: each cancel of the waiter cancels the task it awaits.
    auto inner_seen = std::make_shared<observed>();
    weft::run(
        [](std::shared_ptr<observed> inner) -> weft::task<void> {
            auto b = std::make_shared<blockers>();
            std::atomic<bool> waiting{false};
            auto child = weft::create_task(waiter(kind::sleep, b.get(), inner.get(), &waiting));
            auto outer = weft::create_task(
                [](weft::task_handle<void> c) -> weft::task<void> { co_await c; }(child));
            while (!waiting.load())
                co_await weft::sleep(0.005);
            co_await weft::sleep(0.05);
            EXPECT_TRUE(outer.cancel("first"));
            EXPECT_TRUE(outer.cancel("second"));
            EXPECT_EQ(child.cancelling(), 2);
            co_await outer;  // the child swallowed it and finished: so does outer
            EXPECT_FALSE(outer.cancelled());
        }(inner_seen),
        {.threads = GetParam()});
    EXPECT_EQ(inner_seen->caught, "first");
    EXPECT_EQ(inner_seen->cancelling, 2);
    EXPECT_FALSE(inner_seen->next_await_cancelled);
}

INSTANTIATE_TEST_SUITE_P(Modes, CancelTwice, ::testing::Values(1, 2, 4), [](const auto& p) {
    return p.param == 1 ? std::string("asyncio") : "go" + std::to_string(p.param);
});

}  // namespace
