// wait() and as_completed(): asyncio.wait and asyncio.as_completed.
//
//     auto [done, pending] = co_await weft::wait(tasks, std::nullopt,
//                                                weft::return_when::first_completed);
//     for (auto next : weft::as_completed(tasks)) int v = co_await next;
//
// wait() never cancels anything: on timeout it returns what is done and what
// is pending. It takes task handles or futures, not lazy tasks (asyncio
// forbids coroutines there too: a task created inside wait() could not be
// found in its result).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <weft/detail/awaitable_traits.hpp>
#include <weft/detail/timeout_arg.hpp>
#include <weft/errors.hpp>
#include <weft/event_loop.hpp>
#include <weft/future.hpp>
#include <weft/task.hpp>

namespace weft {

enum class return_when { first_completed, first_exception, all_completed };

template <class H>
struct wait_result {
    std::vector<H> done;
    std::vector<H> pending;
};

namespace detail {

// Removes repeats (asyncio turns its argument into a set).
template <class H>
std::vector<H> distinct(std::vector<H> fs) {
    std::vector<H> out;
    out.reserve(fs.size());
    for (H& f : fs) {
        bool dup = false;
        for (H& o : out)
            dup = dup || core_of(o) == core_of(f);
        if (!dup) out.push_back(std::move(f));
    }
    return out;
}

// asyncio's _release_waiter, comparable so that it can be removed again.
// (try_set_result: a timer and a completion may race to release it.)
struct release_waiter {
    future<void> waiter;
    void operator()() { waiter.try_set_result(); }
    template <class F>
    void operator()(F&) {
        (*this)();
    }
    bool operator==(const release_waiter& o) const noexcept {
        return waiter.core() == o.waiter.core();
    }
};

struct wait_state {
    future<void> waiter;
    std::size_t counter;
    return_when when;
    timer_handle timer;  // set before any callback can run; read-only after
    std::mutex mutex;    // the counter, against callbacks on other workers
};

// asyncio wait's _on_completion.
struct wait_on_completion {
    std::shared_ptr<wait_state> st;
    template <class F>
    void operator()(F& f) {
        bool failed = false;
        if (st->when == return_when::first_exception && !f.cancelled()) {
            failed = f.exception() != nullptr;
        }
        std::size_t left;
        {
            std::lock_guard lock(st->mutex);
            left = --st->counter;
        }
        if (left == 0 || st->when == return_when::first_completed || failed) {
            st->timer.cancel();
            st->waiter.try_set_result();
        }
    }
    bool operator==(const wait_on_completion& o) const noexcept { return st == o.st; }
};

}  // namespace detail

// Waits for the futures or tasks in `fs` until `when` is met or `timeout`
// seconds pass; returns the done and the pending ones.
template <class H>
task<wait_result<H>> wait(std::vector<H> fs, std::optional<timeout_arg> timeout = std::nullopt,
                          return_when when = return_when::all_completed) {
    static_assert(!std::is_same_v<H, task<typename H::value_type>>,
                  "weft::wait takes task handles or futures: create_task() the lazy tasks first");
    if (fs.empty()) throw std::invalid_argument("weft::wait: the set of futures is empty");
    double limit = timeout ? timeout->checked("weft::wait") : 0.0;
    fs = detail::distinct(std::move(fs));
    event_loop& loop = get_running_loop();

    auto st = std::make_shared<detail::wait_state>();
    st->waiter = future<void>(loop);
    st->counter = fs.size();
    st->when = when;
    if (timeout) st->timer = loop.call_later(limit, detail::release_waiter{st->waiter});
    for (H& f : fs)
        f.add_done_callback(detail::wait_on_completion{st});

    std::exception_ptr failure;
    try {
        co_await st->waiter;
    } catch (...) {
        failure = std::current_exception();
    }
    st->timer.cancel();
    for (H& f : fs)
        f.remove_done_callback(detail::wait_on_completion{st});
    if (failure) std::rethrow_exception(failure);

    wait_result<H> out;
    for (H& f : fs)
        (f.done() ? out.done : out.pending).push_back(std::move(f));
    co_return out;
}

// as_completed(): yields one awaitable per future, each giving the result of
// the next one to complete (or raising timeout_error once `timeout` passes).
template <class H>
class as_completed_range {
public:
    using value_type = typename H::value_type;

    as_completed_range(std::vector<H> fs, std::optional<timeout_arg> timeout) {
        event_loop& loop = get_running_loop();
        double limit = timeout ? timeout->checked("weft::as_completed") : 0.0;
        st_ = std::make_shared<state>();
        st_->todo = detail::distinct(std::move(fs));
        remaining_ = st_->todo.size();
        for (H& f : st_->todo)
            f.add_done_callback(on_completion{st_});
        if (!st_->todo.empty() && timeout) {
            std::weak_ptr<state> weak = st_;
            st_->timer = loop.call_later(limit, [weak] {
                if (auto s = weak.lock()) s->on_timeout();
            });
        }
    }

    std::size_t size() const noexcept { return remaining_; }

    // The next result in completion order (asyncio's _wait_for_one).
    task<value_type> next() {
        if (remaining_ == 0) throw std::out_of_range("weft::as_completed: no futures left");
        --remaining_;
        return wait_for_one(st_);
    }

    class iterator {
    public:
        task<value_type> operator*() const { return range_->next(); }
        iterator& operator++() noexcept { return *this; }
        bool operator!=(const iterator&) const noexcept { return range_->size() != 0; }

    private:
        friend class as_completed_range;
        explicit iterator(as_completed_range* r) noexcept : range_(r) {}
        as_completed_range* range_;
    };
    iterator begin() noexcept { return iterator(this); }
    iterator end() noexcept { return iterator(this); }

private:
    // Callbacks may run on several workers at once in Go mode: `mutex`
    // guards everything but `timer`, which is set before they can run.
    struct state : std::enable_shared_from_this<state> {
        std::mutex mutex;
        std::vector<H> todo;
        std::deque<std::optional<H>> done;  // nullopt marks the timeout
        std::optional<future<void>> getter;
        timer_handle timer;

        // With `mutex` held; returns the getter to release, if any.
        std::optional<future<void>> put(std::optional<H> f) {
            done.push_back(std::move(f));
            return std::exchange(getter, std::nullopt);
        }
        void on_timeout();
    };
    struct on_completion {
        std::shared_ptr<state> st;
        void operator()(H& f) {
            std::optional<future<void>> release;
            bool all_done = false;
            {
                std::lock_guard lock(st->mutex);
                auto& todo = st->todo;
                if (todo.empty()) return;  // the timeout came first
                for (auto it = todo.begin(); it != todo.end(); ++it) {
                    if (detail::core_of(*it) == detail::core_of(f)) {
                        H h = std::move(*it);
                        todo.erase(it);
                        release = st->put(std::move(h));
                        break;
                    }
                }
                all_done = todo.empty();
            }
            if (all_done) st->timer.cancel();
            if (release) release->try_set_result();
        }
        bool operator==(const on_completion& o) const noexcept { return st == o.st; }
    };

    static task<value_type> wait_for_one(std::shared_ptr<state> st) {
        std::optional<H> f;
        for (;;) {
            std::optional<future<void>> wait;
            {
                std::lock_guard lock(st->mutex);
                if (!st->done.empty()) {
                    f = std::move(st->done.front());
                    st->done.pop_front();
                    break;
                }
                st->getter.emplace(get_running_loop());
                wait = st->getter;
            }
            co_await *wait;
        }
        if (!f) throw timeout_error();
        if constexpr (std::is_void_v<value_type>) {
            f->result();
        } else {
            co_return f->result();
        }
    }

    std::shared_ptr<state> st_;
    std::size_t remaining_ = 0;
};

template <class H>
void as_completed_range<H>::state::on_timeout() {
    std::vector<H> left;
    std::optional<future<void>> release;
    {
        std::lock_guard lock(mutex);
        left = std::move(todo);
        todo.clear();
        for (std::size_t i = 0; i < left.size(); ++i) {
            auto r = put(std::nullopt);
            if (r) release = std::move(r);
        }
    }
    for (H& f : left)
        f.remove_done_callback(on_completion{this->shared_from_this()});
    if (release) release->try_set_result();
}

template <class A>
as_completed_range<typename detail::traits_of<A>::handle_type> as_completed(
    std::vector<A> fs, std::optional<timeout_arg> timeout = std::nullopt) {
    using H = typename detail::traits_of<A>::handle_type;
    std::vector<H> handles;
    handles.reserve(fs.size());
    for (A& a : fs)
        handles.push_back(detail::ensure_future(std::move(a)));
    return as_completed_range<H>(std::move(handles), timeout);
}

}  // namespace weft
