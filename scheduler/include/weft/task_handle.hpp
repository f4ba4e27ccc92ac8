// Tasks: create_task() schedules a lazy task<T> on the running loop and
// returns a handle to it (asyncio's Task).
//
//     auto t = weft::create_task(fetch(url), "fetch");
//     ...
//     auto body = co_await t;     // waits; returns the result or rethrows
//     t.cancel("no longer needed");
//
// Handles are cheap references (copying one bumps a count): a task lives
// until it has finished and no handle refers to it. A task nobody holds a
// handle to still runs to completion, as in asyncio.
#pragma once

#include <cstddef>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <weft/detail/completion_awaiter.hpp>
#include <weft/detail/context_map.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>
#include <weft/task.hpp>

namespace weft {

// A handle to a task of any result type: everything but the result.
class task_ref {
public:
    task_ref() noexcept = default;
    task_ref(const task_ref& o) noexcept : rec_(o.rec_) {
        if (rec_) rec_->add_ref();
    }
    task_ref(task_ref&& o) noexcept : rec_(std::exchange(o.rec_, nullptr)) {}
    task_ref& operator=(task_ref o) noexcept {
        std::swap(rec_, o.rec_);
        return *this;
    }
    ~task_ref() {
        if (rec_) rec_->release();
    }

    // Takes a new reference to `r`.
    static task_ref from_record(detail::task_record* r) noexcept {
        if (r) r->add_ref();
        return task_ref(r);
    }
    static task_ref from_core(detail::future_core* f) noexcept {
        return from_record(static_cast<detail::task_record*>(f));
    }

    explicit operator bool() const noexcept { return rec_ != nullptr; }
    bool operator==(const task_ref& o) const noexcept { return rec_ == o.rec_; }

    bool done() const { return rec().done(); }
    bool cancelled() const { return rec().cancelled(); }
    // Requests cancellation: the task gets cancelled_error at its current or
    // next suspension point. False if it is already done.
    bool cancel() { return rec().request_cancel(nullptr); }
    bool cancel(const std::string& message) { return rec().request_cancel(&message); }
    int cancelling() const { return rec().cancelling(); }
    int uncancel() { return rec().uncancel(); }

    std::string get_name() const { return rec().name(); }
    void set_name(std::string name) { rec().set_name(std::move(name)); }

    // The exception the task ended with, or null. Raises invalid_state_error
    // while pending and cancelled_error if it was cancelled.
    std::exception_ptr exception() const {
        auto& r = rec();
        std::uint32_t fl = r.flags();
        if (!(fl & detail::f_done_mask)) throw invalid_state_error("exception is not set");
        if (fl & detail::f_cancelled) throw r.make_cancelled_error();
        r.mark_retrieved();
        return r.exception_unchecked();
    }

    // Done-callbacks receive a task_ref to the task; they are scheduled with
    // call_soon when it completes (at once if it has), in registration order.
    template <class F>
    void add_done_callback(F&& f) {
        detail::add_done_callback<task_ref>(&rec(), std::forward<F>(f));
    }
    // Removes every callback equal to `f`; returns how many.
    template <class F>
    std::size_t remove_done_callback(const F& f) {
        return detail::remove_done_callback(&rec(), f);
    }

    // Awaiting a task_ref waits for it and rethrows its exception.
    struct awaiter : detail::completion_awaiter {
        using completion_awaiter::completion_awaiter;
        void await_resume() { finish_wait(); }
    };
    awaiter operator co_await() const noexcept { return awaiter(&rec()); }

    detail::task_record* record() const noexcept { return rec_; }

protected:
    explicit task_ref(detail::task_record* adopted) noexcept : rec_(adopted) {}
    detail::task_record& rec() const {
        if (WEFT_UNLIKELY(rec_ == nullptr)) throw invalid_state_error("weft: empty task handle");
        return *rec_;
    }
    detail::task_record* rec_ = nullptr;
};

template <class T>
class task_handle : public task_ref {
public:
    using value_type = T;
    task_handle() noexcept = default;

    static task_handle adopt(detail::task_promise<T>* p) noexcept { return task_handle(p); }
    static task_handle from_core(detail::future_core* f) noexcept {
        auto* r = static_cast<detail::task_record*>(f);
        if (r) r->add_ref();
        return task_handle(static_cast<detail::task_promise<T>*>(r));
    }

    // The task's result; raises invalid_state_error while pending,
    // cancelled_error if cancelled, and the task's exception if it failed.
    decltype(auto) result() const {
        promise().rethrow_if_failed("result");
        if constexpr (!std::is_void_v<T>) return promise().value();
    }

    template <class F>
    void add_done_callback(F&& f) {
        detail::add_done_callback<task_handle>(&rec(), std::forward<F>(f));
    }

    struct awaiter : detail::completion_awaiter {
        using completion_awaiter::completion_awaiter;
        decltype(auto) await_resume() {
            finish_wait();
            if constexpr (!std::is_void_v<T>)
                return static_cast<detail::task_promise<T>*>(target)->value();
        }
    };
    struct move_awaiter : detail::completion_awaiter {
        using completion_awaiter::completion_awaiter;
        T await_resume() {
            finish_wait();
            if constexpr (!std::is_void_v<T>)
                return std::move(static_cast<detail::task_promise<T>*>(target)->value());
        }
    };
    // `co_await t` yields a reference to the result (for task_handle<T&>,
    // the T&); `co_await std::move(t)` moves the result out, for move-only T.
    awaiter operator co_await() const& noexcept { return awaiter(&rec()); }
    move_awaiter operator co_await() && noexcept { return move_awaiter(&rec()); }

private:
    explicit task_handle(detail::task_promise<T>* p) noexcept : task_ref(p) {}
    detail::task_promise<T>& promise() const {
        return static_cast<detail::task_promise<T>&>(rec());
    }
};

// Schedules `t` as a task on the running loop; it starts at the loop's next
// iteration (asyncio.create_task). `name` defaults to "Task-N".
template <class T>
task_handle<T> create_task(task<T> t) {
    return get_running_loop().create_task(std::move(t));
}
template <class T>
task_handle<T> create_task(task<T> t, std::string name) {
    return get_running_loop().create_task(std::move(t), std::move(name));
}

// Go's name for the same thing.
template <class T>
task_handle<T> spawn(task<T> t) {
    return create_task(std::move(t));
}
template <class T>
task_handle<T> spawn(task<T> t, std::string name) {
    return create_task(std::move(t), std::move(name));
}

template <class T>
task_handle<T> event_loop::create_task(task<T> t) {
    return spawn_task(std::move(t), nullptr);
}

template <class T>
task_handle<T> event_loop::create_task(task<T> t, std::string name) {
    return spawn_task(std::move(t), name.empty() ? nullptr : &name);
}

template <class T>
task_handle<T> event_loop::spawn_task(task<T> t, std::string* name) {
    event_loop& loop = here("create_task");  // in Go mode: the worker we are on
    auto h = t.release();
    if (!h) throw invalid_state_error("weft::create_task: the task is empty (moved from?)");
    detail::task_promise<T>& p = h.promise();
    if (p.flags(std::memory_order_relaxed) & detail::f_spawned) {
        throw invalid_state_error("weft::create_task: this task is already scheduled");
    }
    p.start_as_task(&loop, h);
    detail::inherit_context(p.context);      // asyncio: copy_context()
    if (name) p.set_name(std::move(*name));  // before another worker can run it
    loop.register_task(&p);
    // asyncio: call_soon(task.__step); Go: newproc puts it in runnext.
    auto handle = task_handle<T>::adopt(&p);
    loop.push_wake(tag_task(&p));
    return handle;
}

template <class T>
T event_loop::run_until_complete(task<T> t) {
    return run_until_complete(create_task(std::move(t)));
}

// Runs the loop until `t` is done, stopping it the way asyncio does: a
// done-callback (one more iteration, scheduled with call_soon) calls stop().
inline void run_until_done(event_loop& loop, task_ref t) {
    auto stop_loop = [](task_ref& done) {
        (void)done;
        if (event_loop* l = event_loop::current()) l->stop();
    };
    t.add_done_callback(stop_loop);
    try {
        loop.run_forever();
    } catch (...) {
        t.remove_done_callback(stop_loop);
        throw;
    }
    if (!t.done()) {
        t.remove_done_callback(stop_loop);
        throw std::runtime_error("weft: the event loop stopped before the task completed");
    }
}

template <class T>
T event_loop::run_until_complete(task_handle<T> h) {
    run_until_done(*this, h);
    if constexpr (std::is_void_v<T> || std::is_reference_v<T>) {
        return h.result();
    } else {
        return std::move(h.result());
    }
}

// The task running on this thread (empty outside a task).
inline task_ref current_task() noexcept {
    return task_ref::from_record(detail::task_record::current());
}

// The running loop's tasks that are not done yet.
inline std::vector<task_ref> all_tasks() {
    std::vector<task_ref> out;
    for (detail::task_record* r : get_running_loop().live_tasks()) {
        if (!r->done()) out.push_back(task_ref::from_record(r));
    }
    return out;
}

}  // namespace weft
