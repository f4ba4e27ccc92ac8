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
    task_group() = default;
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;

    // Starts `t` as a task of the group. Only while the group runs.
    template <class T>
    task_handle<T> create_task(task<T> t, std::string name = {}) {
        if (!entered_) throw std::logic_error("weft::task_group: create_task before run()");
        if (exiting_ && tasks_.empty())
            throw std::logic_error("weft::task_group: the group is finished");
        if (aborting_) throw std::logic_error("weft::task_group: the group is shutting down");
        task_handle<T> h = loop_->create_task(std::move(t), std::move(name));
        h.add_done_callback(on_task_done{this});
        tasks_.push_back(h);
        return h;
    }

    // Runs `body` inline, then waits for the group's tasks (see above).
    task<void> run(task<void> body);

  private:
    struct on_task_done {
        task_group* g;
        void operator()(task_ref& t) { g->task_done(t); }
        bool operator==(const on_task_done& o) const noexcept { return g == o.g; }
    };
    void task_done(task_ref& t);
    void abort();

    event_loop* loop_ = nullptr;
    task_ref parent_;
    std::vector<task_ref> tasks_;
    std::vector<std::exception_ptr> errors_;
    std::optional<future<void>> on_completed_;
    bool entered_ = false;
    bool exiting_ = false;
    bool aborting_ = false;
    bool parent_cancel_requested_ = false;
};

inline void task_group::abort() {
    aborting_ = true;
    for (task_ref& t : tasks_)
        if (!t.done()) t.cancel();
}

// asyncio TaskGroup._on_task_done.
inline void task_group::task_done(task_ref& t) {
    for (auto it = tasks_.begin(); it != tasks_.end(); ++it) {
        if (*it == t) {
            tasks_.erase(it);
            break;
        }
    }
    if (on_completed_ && tasks_.empty() && !on_completed_->done()) on_completed_->set_result();
    if (t.cancelled()) return;
    std::exception_ptr e = t.exception();
    if (!e) return;
    errors_.push_back(e);
    if (parent_.done()) {
        loop_->call_exception_handler(exception_context{
            "a task_group task failed after its parent task finished", e, t.get_name()});
        return;
    }
    if (!aborting_ && !parent_cancel_requested_) {
        // Cancel the body too; run() takes that cancellation back at the end.
        abort();
        parent_cancel_requested_ = true;
        parent_.cancel();
    }
}

// asyncio TaskGroup.__aenter__ + body + __aexit__.
inline task<void> task_group::run(task<void> body) {
    if (entered_) throw std::logic_error("weft::task_group: run() called twice");
    entered_ = true;
    loop_ = &get_running_loop();
    parent_ = current_task();
    if (!parent_) throw std::logic_error("weft::task_group: must run inside a task");

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

    exiting_ = true;
    std::exception_ptr propagate_cancellation;
    if (body_error) {
        if (body_cancelled) {
            // A cancel we asked for ourselves is swallowed; any other goes on.
            if (!(parent_cancel_requested_ && parent_.uncancel() == 0)) {
                propagate_cancellation = body_error;
            }
        }
        if (!aborting_) abort();
    }
    while (!tasks_.empty()) {
        if (!on_completed_) on_completed_.emplace(*loop_);
        std::exception_ptr cancelled;
        try {
            co_await *on_completed_;
        } catch (const cancelled_error&) {
            cancelled = std::current_exception();
        }
        if (cancelled && !aborting_) {
            // The task running the group is being cancelled.
            propagate_cancellation = cancelled;
            abort();
        }
        on_completed_.reset();
    }
    if (propagate_cancellation && errors_.empty()) std::rethrow_exception(propagate_cancellation);
    if (body_error && !body_cancelled) errors_.push_back(body_error);
    if (!errors_.empty()) {
        std::vector<std::exception_ptr> errors = std::move(errors_);
        throw exception_group("unhandled errors in a task_group", std::move(errors));
    }
}

}  // namespace weft
