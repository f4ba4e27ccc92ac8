// task_group: structured concurrency (asyncio.TaskGroup).
//
//     weft::task_group tg;
//     co_await tg.run([&]() -> weft::task<void> {
//         tg.create_task(fetch(1));
//         tg.create_task(fetch(2));
//         co_return;
//     }());
//     // here every task of the group has finished
//
// run() runs the body inline, then waits for every task created in the
// group. The first task to fail cancels the others and the body; once all
// have finished, run() raises an exception_group holding every error. A body
// that fails is handled the same way. Cancelling the task that runs the group
// cancels the group's tasks too.
#pragma once

#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <weft/errors.hpp>
#include <weft/event_loop.hpp>
#include <weft/future.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

namespace weft {

class task_group {
public:
    task_group() : s_(std::make_shared<shared>()) {}
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;

    // Starts `t` as a task of the group. Only while the group runs.
    template <class T>
    task_handle<T> create_task(task<T> t, std::string name = {}) {
        std::lock_guard lock(s_->mutex);
        if (!s_->entered) throw std::logic_error("weft::task_group: create_task before run()");
        if (s_->exiting && s_->tasks.empty()) {
            throw std::logic_error("weft::task_group: the group is finished");
        }
        if (s_->aborting) throw std::logic_error("weft::task_group: the group is shutting down");
        task_handle<T> h = get_running_loop().create_task(std::move(t), std::move(name));
        s_->tasks.push_back(h);
        h.add_done_callback(on_task_done{s_});
        return h;
    }

    // Runs `body` inline, then waits for the group's tasks (see above).
    task<void> run(task<void> body);

private:
    // Done-callbacks run on any worker in Go mode, maybe after the group
    // object is gone: they hold this block, and `mutex` guards it.
    struct shared {
        std::mutex mutex;
        task_ref parent;
        std::vector<task_ref> tasks;
        std::vector<std::exception_ptr> errors;
        std::optional<future<void>> on_completed;
        bool entered = false;
        bool exiting = false;
        bool aborting = false;
        bool parent_cancel_requested = false;
    };
    struct on_task_done {
        std::shared_ptr<shared> s;
        void operator()(task_ref& t) { task_done(s, t); }
        bool operator==(const on_task_done& o) const noexcept { return s == o.s; }
    };
    static void task_done(const std::shared_ptr<shared>& s, task_ref& t);
    // With the lock held: marks the group aborting and returns the tasks to
    // cancel (cancelled by the caller once the lock is released).
    static std::vector<task_ref> abort_locked(shared& s);

    std::shared_ptr<shared> s_;
};

inline std::vector<task_ref> task_group::abort_locked(shared& s) {
    s.aborting = true;
    std::vector<task_ref> to_cancel;
    for (task_ref& t : s.tasks)
        if (!t.done()) to_cancel.push_back(t);
    return to_cancel;
}

// asyncio TaskGroup._on_task_done.
inline void task_group::task_done(const std::shared_ptr<shared>& s, task_ref& t) {
    std::optional<future<void>> release;
    std::vector<task_ref> to_cancel;
    bool cancel_parent = false;
    std::exception_ptr late_error;
    task_ref parent;
    {
        std::lock_guard lock(s->mutex);
        for (auto it = s->tasks.begin(); it != s->tasks.end(); ++it) {
            if (*it == t) {
                s->tasks.erase(it);
                break;
            }
        }
        if (s->on_completed && s->tasks.empty()) release = s->on_completed;
        if (!t.cancelled()) {
            if (std::exception_ptr e = t.exception()) {
                s->errors.push_back(e);
                if (s->parent.done()) {
                    late_error = e;
                } else if (!s->aborting && !s->parent_cancel_requested) {
                    // Cancel the body too; run() takes that cancellation back.
                    to_cancel = abort_locked(*s);
                    s->parent_cancel_requested = true;
                    cancel_parent = true;
                    parent = s->parent;
                }
            }
        }
    }
    for (task_ref& c : to_cancel)
        c.cancel();
    if (cancel_parent) parent.cancel();
    if (release) release->try_set_result();
    if (late_error) {
        get_running_loop().call_exception_handler(exception_context{
            "a task_group task failed after its parent task finished", late_error, t.get_name()});
    }
}

// asyncio TaskGroup.__aenter__ + body + __aexit__.
inline task<void> task_group::run(task<void> body) {
    {
        std::lock_guard lock(s_->mutex);
        if (s_->entered) throw std::logic_error("weft::task_group: run() called twice");
        s_->parent = current_task();
        if (!s_->parent) throw std::logic_error("weft::task_group: must run inside a task");
        s_->entered = true;
    }

    std::exception_ptr body_error;
    bool body_cancelled = false;
    try {
        co_await std::move(body);
    } catch (const cancelled_error&) {
        body_error = std::current_exception();
        body_cancelled = true;
    } catch (...) {
        body_error = std::current_exception();
    }

    std::exception_ptr propagate_cancellation;
    std::vector<task_ref> to_cancel;
    {
        std::lock_guard lock(s_->mutex);
        s_->exiting = true;
        if (body_error) {
            if (body_cancelled) {
                // A cancel we asked for ourselves is swallowed; any other goes on.
                if (!(s_->parent_cancel_requested && s_->parent.uncancel() == 0)) {
                    propagate_cancellation = body_error;
                }
            }
            if (!s_->aborting) to_cancel = abort_locked(*s_);
        }
    }
    for (task_ref& c : to_cancel)
        c.cancel();

    for (;;) {
        std::optional<future<void>> wait;
        {
            std::lock_guard lock(s_->mutex);
            if (s_->tasks.empty()) break;
            if (!s_->on_completed) s_->on_completed.emplace(get_running_loop());
            wait = s_->on_completed;
        }
        std::exception_ptr cancelled;
        try {
            co_await *wait;
        } catch (const cancelled_error&) {
            cancelled = std::current_exception();
        }
        to_cancel.clear();
        {
            std::lock_guard lock(s_->mutex);
            if (cancelled && !s_->aborting) {
                // The task running the group is being cancelled.
                propagate_cancellation = cancelled;
                to_cancel = abort_locked(*s_);
            }
            s_->on_completed.reset();
        }
        for (task_ref& c : to_cancel)
            c.cancel();
    }

    std::vector<std::exception_ptr> errors;
    {
        std::lock_guard lock(s_->mutex);
        errors = std::move(s_->errors);
        s_->errors.clear();
    }
    if (propagate_cancellation && errors.empty()) std::rethrow_exception(propagate_cancellation);
    if (body_error && !body_cancelled) errors.push_back(body_error);
    if (!errors.empty())
        throw exception_group("unhandled errors in a task_group", std::move(errors));
}

}  // namespace weft
