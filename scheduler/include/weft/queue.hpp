// weft::queue, weft::priority_queue, weft::lifo_queue: asyncio.Queue,
// PriorityQueue and LifoQueue (Python 3.13's, with shutdown), safe across
// threads.
//
//     weft::queue<std::string> q(10);          // maxsize 10; 0 (the default): unbounded
//     co_await q.put("job");                   // waits while the queue is full
//     std::string job = co_await q.get();      // waits while it is empty
//     q.task_done();  ...  co_await q.join();  // waits until every item is done
//     q.shutdown();                            // put raises queue_shut_down; get drains, then
//     raises
//
// asyncio's rules, exactly: put_nowait() wakes the longest-waiting getter and
// get_nowait() the longest-waiting putter, and a woken task takes its turn
// like any other, re-checking the queue when it runs; another task that gets
// there first may take the item (or the free slot), and the woken one waits
// again, at the back. A woken task that is cancelled before it runs passes the
// wake-up on, so no item and no free slot is left with a waiter asleep.
//
// Items move in and out (move-only types work). The item moves, the store's
// allocations and priority_queue's comparator run under the queue's spin
// lock: keep them short, and do not touch the queue from them.
//
// Cost: put_nowait / get_nowait, and put / get that need not wait, take the
// spin lock once (one atomic exchange and one store when uncontended); a FIFO
// queue in steady state allocates nothing. A put or get that waits runs a
// small coroutine from the frame pool for the wait-and-re-check loop.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <weft/detail/inline_op.hpp>
#include <weft/detail/list_wait.hpp>
#include <weft/detail/queue_store.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/wait_list.hpp>
#include <weft/errors.hpp>
#include <weft/event_loop.hpp>
#include <weft/task.hpp>

namespace weft {

// asyncio.QueueEmpty: get_nowait() on an empty queue.
class queue_empty : public std::runtime_error {
public:
    queue_empty() : std::runtime_error("weft::queue::get_nowait: the queue is empty") {}
    using std::runtime_error::runtime_error;
};

// asyncio.QueueFull: put_nowait() on a full queue.
class queue_full : public std::runtime_error {
public:
    queue_full() : std::runtime_error("weft::queue::put_nowait: the queue is full") {}
    using std::runtime_error::runtime_error;
};

// asyncio.QueueShutDown: put on a queue that was shut down, or get on one
// that was shut down and is empty.
class queue_shut_down : public std::runtime_error {
public:
    queue_shut_down() : std::runtime_error("weft::queue: the queue is shut down") {}
    using std::runtime_error::runtime_error;
};

namespace detail {

template <class T, class Store>
class basic_queue {
public:
    using value_type = T;

    // maxsize 0 means unbounded, as asyncio's maxsize <= 0.
    explicit basic_queue(std::size_t maxsize = 0, Store store = Store())
        : maxsize_(maxsize), store_(std::move(store)) {}
    basic_queue(const basic_queue&) = delete;
    basic_queue& operator=(const basic_queue&) = delete;

    // Snapshots (exact in asyncio mode; across threads, what was true a
    // moment ago).
    std::size_t maxsize() const noexcept { return maxsize_; }
    std::size_t qsize() const noexcept { return size_hint(); }
    bool empty() const noexcept { return size_hint() == 0; }
    bool full() const noexcept { return maxsize_ > 0 && size_hint() >= maxsize_; }

    // Adds `item` without waiting. Raises queue_full if the queue is full and
    // queue_shut_down if it was shut down (the item is then left unused).
    void put_nowait(T item) {
        wake_chain woken;  // destroyed after the guard: wakes after the unlock
        std::lock_guard held(mutex());
        if (shutdown_) throw queue_shut_down("weft::queue::put_nowait: the queue is shut down");
        if (full_locked()) {
            throw queue_full("weft::queue::put_nowait: the queue is full (maxsize " +
                             std::to_string(maxsize_) + ")");
        }
        push_locked(item, woken);
    }

    // Takes an item without waiting. Raises queue_empty if there is none, and
    // queue_shut_down if there is none and the queue was shut down.
    T get_nowait() {
        wake_chain woken;
        std::lock_guard held(mutex());
        if (store_.empty()) {
            if (shutdown_) {
                throw queue_shut_down("weft::queue::get_nowait: the queue is shut down and empty");
            }
            throw queue_empty();
        }
        return pop_locked(woken);
    }

    class put_awaiter;
    class get_awaiter;

    // Adds `item`, waiting while the queue is full. Raises queue_shut_down if
    // the queue is (or gets) shut down first.
    [[nodiscard]] put_awaiter put(T item) { return put_awaiter(*this, std::move(item)); }
    // Takes an item, waiting while the queue is empty. Raises
    // queue_shut_down if the queue is (or gets) shut down and is empty.
    [[nodiscard]] get_awaiter get() noexcept { return get_awaiter(*this); }

    // Marks one item taken with get() as processed, for join(). Raises
    // std::logic_error when called more often than items were put.
    void task_done() {
        wake_chain woken;
        std::lock_guard held(mutex());
        if (unfinished_ == 0)
            throw std::logic_error("weft::queue::task_done: called too many times");
        if (--unfinished_ == 0) {
            while (joiners_.grant_front(woken)) {
            }
        }
    }

    // Waits until every item put has been marked done with task_done().
    task<void> join() {
        auto r = co_await list_wait(
            joiners_, [this](wake_chain&) { return unfinished_ == 0; }, "weft::queue::join");
        if (r == wait_result::woken) check_cancelled();
    }

    // asyncio 3.13's shutdown: from now on put raises queue_shut_down, and
    // get does once the queue is empty; every waiting putter and getter wakes
    // to find that out. immediate = true also drops the items still queued
    // (counting each as done for join()).
    void shutdown(bool immediate = false) {
        // Destroyed after the unlock: dropped items' destructors are user code.
        std::optional<decltype(std::declval<Store&>().take_items())> dropped;
        wake_chain woken;
        std::lock_guard held(mutex());
        shutdown_ = true;
        if (immediate) {
            std::size_t n = store_.size();
            dropped.emplace(store_.take_items());
            update_size_locked();
            unfinished_ -= n < unfinished_ ? n : unfinished_;
            if (unfinished_ == 0) {
                while (joiners_.grant_front(woken)) {
                }
            }
        }
        while (getters_.grant_front(woken)) {
        }
        while (putters_.grant_front(woken)) {
        }
    }

private:
    spin_lock& mutex() const noexcept { return getters_.mutex(); }
    // Relaxed: a snapshot for the observers and for the fast paths' first
    // look; everything that acts on it looks again under the lock.
    std::size_t size_hint() const noexcept { return size_.load(std::memory_order_relaxed); }
    void update_size_locked() noexcept { size_.store(store_.size(), std::memory_order_relaxed); }

    // ---- with the lock held
    bool full_locked() const noexcept { return maxsize_ > 0 && store_.size() >= maxsize_; }
    void push_locked(T& item, wake_chain& woken) {
        store_.push(std::move(item));
        update_size_locked();
        ++unfinished_;
        getters_.grant_front(woken);  // asyncio: _wakeup_next(self._getters)
    }
    T pop_locked(wake_chain& woken) {
        T item = store_.pop();
        update_size_locked();
        putters_.grant_front(woken);  // asyncio: _wakeup_next(self._putters)
        return item;
    }

    // ---- the slow paths: asyncio's `while self.full(): await putter` loops
    inline_op put_slow(T& item);
    inline_op get_slow(std::optional<T>& out);
    // A waiter woken and then cancelled before it ran passes the wake-up on
    // to the next one, if what it was woken for is still there.
    void pass_on_put_wakeup() noexcept {
        wake_chain woken;
        std::lock_guard held(mutex());
        if (!full_locked()) putters_.grant_front(woken);
    }
    void pass_on_get_wakeup() noexcept {
        wake_chain woken;
        std::lock_guard held(mutex());
        if (!store_.empty()) getters_.grant_front(woken);
    }

    std::size_t maxsize_;
    std::atomic<std::size_t> size_{0};  // store_.size(), written under the lock
    std::size_t unfinished_ = 0;        // asyncio's _unfinished_tasks
    bool shutdown_ = false;
    Store store_;
    // One lock (the getters list's) guards the items, the counters and the
    // three lists; the other two share it.
    mutable wait_list getters_;
    mutable wait_list putters_{getters_.mutex()};
    mutable wait_list joiners_{getters_.mutex()};
};

// put(): adds the item at once if there is room (await_ready), else runs
// put_slow() inline, which waits and re-checks until there is.
template <class T, class Store>
class basic_queue<T, Store>::put_awaiter {
public:
    put_awaiter(basic_queue& q, T item) : q_(q), item_(std::move(item)) {}
    put_awaiter(const put_awaiter&) = delete;
    put_awaiter& operator=(const put_awaiter&) = delete;

    bool await_ready() {
        if (q_.maxsize_ > 0 && q_.size_hint() >= q_.maxsize_) return false;  // looks full
        check_cancelled();  // a pending cancel raises before the item goes in
        wake_chain woken;
        {
            std::lock_guard held(q_.mutex());
            if (q_.shutdown_) {
                outcome_ = shut_down;
                return true;
            }
            if (q_.full_locked()) return false;
            q_.push_locked(item_, woken);
            outcome_ = done;
        }
        woken.wake_all();
        return consume_budget();
    }

    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
        if (outcome_ == done) {  // put, but out of budget: yield once
            task_record& t = current_task_for_await("weft::queue::put");
            t.link = h;
            event_loop::current()->push_ready(event_loop::tag_task(&t));
            return std::noop_coroutine();
        }
        slow_ = q_.put_slow(item_);
        return slow_.start(h);
    }

    void await_resume() {
        if (outcome_ == shut_down)
            throw queue_shut_down("weft::queue::put: the queue is shut down");
        if (outcome_ == pending) slow_.finish();
    }

private:
    enum { pending, done, shut_down } outcome_ = pending;
    basic_queue& q_;
    T item_;
    inline_op slow_;  // after item_, which it refers to
};

template <class T, class Store>
class basic_queue<T, Store>::get_awaiter {
public:
    explicit get_awaiter(basic_queue& q) noexcept : q_(q) {}
    get_awaiter(const get_awaiter&) = delete;
    get_awaiter& operator=(const get_awaiter&) = delete;

    bool await_ready() {
        if (q_.size_hint() == 0) return false;  // looks empty (or shut down and empty)
        check_cancelled();                      // a pending cancel raises before an item is taken
        wake_chain woken;
        {
            std::lock_guard held(q_.mutex());
            if (q_.store_.empty()) return false;  // the slow path sorts out a shutdown
            item_.emplace(q_.pop_locked(woken));
        }
        woken.wake_all();
        return consume_budget();
    }

    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
        if (item_) {  // taken, but out of budget: yield once
            task_record& t = current_task_for_await("weft::queue::get");
            t.link = h;
            event_loop::current()->push_ready(event_loop::tag_task(&t));
            return std::noop_coroutine();
        }
        slow_ = q_.get_slow(item_);
        started_ = true;
        return slow_.start(h);
    }

    T await_resume() {
        if (started_) slow_.finish();  // rethrows queue_shut_down, cancelled_error
        return std::move(*item_);
    }

private:
    basic_queue& q_;
    bool started_ = false;
    std::optional<T> item_;
    inline_op slow_;  // after item_, which it refers to
};

template <class T, class Store>
inline_op basic_queue<T, Store>::put_slow(T& item) {
    for (;;) {
        bool shut = false;
        auto r = co_await list_wait(
            putters_,
            [&](wake_chain& woken) {
                if (shutdown_) {
                    shut = true;
                    return true;
                }
                if (full_locked()) return false;
                push_locked(item, woken);
                return true;
            },
            "weft::queue::put");
        if (r == wait_result::proceeded) {
            if (shut) throw queue_shut_down("weft::queue::put: the queue is shut down");
            co_return;
        }
        // Woken by a get (or shutdown): re-check, unless cancelled meanwhile.
        try {
            check_cancelled();
        } catch (...) {
            pass_on_put_wakeup();
            throw;
        }
        // Usually the slot is still free: take it without a hook (the next
        // list_wait, which installs one, is needed only if it was taken).
        wake_chain woken;
        std::lock_guard held(mutex());
        if (shutdown_) throw queue_shut_down("weft::queue::put: the queue is shut down");
        if (!full_locked()) {
            push_locked(item, woken);
            co_return;
        }
    }
}

template <class T, class Store>
inline_op basic_queue<T, Store>::get_slow(std::optional<T>& out) {
    for (;;) {
        bool shut = false;
        auto r = co_await list_wait(
            getters_,
            [&](wake_chain& woken) {
                if (!store_.empty()) {
                    out.emplace(pop_locked(woken));
                    return true;
                }
                if (shutdown_) {
                    shut = true;
                    return true;
                }
                return false;
            },
            "weft::queue::get");
        if (r == wait_result::proceeded) {
            if (shut) throw queue_shut_down("weft::queue::get: the queue is shut down and empty");
            co_return;
        }
        // Woken by a put (or shutdown): re-check, unless cancelled meanwhile.
        try {
            check_cancelled();
        } catch (...) {
            pass_on_get_wakeup();
            throw;
        }
        // Usually the item is still there: take it without a hook (the next
        // list_wait, which installs one, is needed only if it was taken).
        wake_chain woken;
        std::lock_guard held(mutex());
        if (!store_.empty()) {
            out.emplace(pop_locked(woken));
            co_return;
        }
        if (shutdown_) throw queue_shut_down("weft::queue::get: the queue is shut down and empty");
    }
}

}  // namespace detail

// asyncio.Queue: first in, first out.
template <class T>
class queue : public detail::basic_queue<T, detail::fifo_store<T>> {
public:
    explicit queue(std::size_t maxsize = 0)
        : detail::basic_queue<T, detail::fifo_store<T>>(maxsize) {}
};

// asyncio.LifoQueue: last in, first out.
template <class T>
class lifo_queue : public detail::basic_queue<T, detail::lifo_store<T>> {
public:
    explicit lifo_queue(std::size_t maxsize = 0)
        : detail::basic_queue<T, detail::lifo_store<T>>(maxsize) {}
};

// asyncio.PriorityQueue: the smallest item under `Compare` first (with the
// default std::less, like heapq); items that compare equal come out in
// heapq's order, so add a sequence number to an item for FIFO among equals.
template <class T, class Compare = std::less<T>>
class priority_queue : public detail::basic_queue<T, detail::heap_store<T, Compare>> {
    using base = detail::basic_queue<T, detail::heap_store<T, Compare>>;

public:
    explicit priority_queue(std::size_t maxsize = 0, Compare less = Compare())
        : base(maxsize, detail::heap_store<T, Compare>(std::move(less))) {}
};

}  // namespace weft
