// Waiting for a job: blocking (plain threads) and suspending (tasks: poll
// from the loop for a while, then park on the future's done-list).
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include <sched.h>

#include <weft/executors/executor_future.hpp>

namespace weft::detail {

// ---- plain threads

bool wait_job(future_core* f, const job_base& job, std::int64_t deadline_ns) {
    if (f->done()) return true;
    if (job.delivered_by_loop && event_loop::current() != nullptr) {
        throw std::logic_error(
            "weft: blocking on a process pool's future from an event loop's thread would "
            "deadlock (the loop reads the result): co_await it instead");
    }
    // A node on the done-list that signals this thread. It lives on our
    // stack: we leave only once it is off the list or has fired.
    struct blocker : done_node {
        std::mutex m;
        std::condition_variable cv;
        bool fired = false;
    } b;
    b.on_done = [](done_node* n, future_core*) noexcept {
        auto* self = static_cast<blocker*>(n);
        // Notify under the lock: once `fired` is seen the waiter's frame goes.
        std::lock_guard lock(self->m);
        self->fired = true;
        self->cv.notify_all();
    };
    if (!f->add_done_node(&b)) return true;  // completed meanwhile
    std::unique_lock lock(b.m);
    if (deadline_ns < 0) {
        b.cv.wait(lock, [&] { return b.fired; });
        return true;
    }
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::nanoseconds(deadline_ns - event_loop::time_ns());
    if (b.cv.wait_until(lock, deadline, [&] { return b.fired; })) return true;
    lock.unlock();
    if (f->remove_done_node(&b)) return false;  // timed out, off the list
    // The completer took the list: our node fires any moment now.
    lock.lock();
    b.cv.wait(lock, [&] { return b.fired; });
    return true;
}

// ---- tasks

void job_wait::poll(callback_base* self) {
    auto* w = static_cast<job_wait*>(self);
    if (w->state.load(std::memory_order_acquire) != polling) return;  // cancelled
    if (!w->target->done()) {
        std::int64_t now = event_loop::time_ns();
        if (now < w->poll_until) {
            // Again next round. The loop keeps running its other ready work
            // and its timers; it only does not go to sleep meanwhile. Past
            // the first few microseconds, with nothing else to run, it lets
            // another thread have the core between looks: with more
            // runnable threads than cores, the one running the job may need
            // it.
            event_loop* loop = event_loop::current();
            if (now > w->poll_until - job_spin_ns + job_spin_quiet_ns && loop->ready_count() == 0) {
                sched_yield();
            }
            w->add_ref();  // the queue's reference
            loop->push_ready(event_loop::tag_callback(w));
            return;
        }
        // Park: the completer wakes the task from the done-list.
        w->add_ref();  // the done-list's reference
        if (w->target->add_done_node(w)) {
            std::uint8_t s = polling;
            // acq_rel: against fire() (which may already have run: it took
            // the node) and the cancel hook (which ended the wait first).
            if (!w->state.compare_exchange_strong(s, parked, std::memory_order_acq_rel,
                                                  std::memory_order_acquire)) {
                if (s == cancelled && w->target->remove_done_node(w)) w->release();
            }
            return;
        }
        w->release();  // completed meanwhile: not on the list
    }
    // Done: wake the task from here, a loop of its scheduler.
    if (w->end_wait(waking)) {
        w->task->wake();
        w->state.store(woken, std::memory_order_release);
    }
}

void job_wait::fire(done_node* self, future_core*) noexcept {
    auto* w = static_cast<job_wait*>(self);
    if (w->end_wait(waking)) {
        task_record* t = w->task;
        t->wake();
        // release: the awaiter's destructor waits to see this (see there).
        w->state.store(woken, std::memory_order_release);
    }
    w->release();  // the done-list's reference
}

job_awaiter_base::~job_awaiter_base() {
    if (wait_ == nullptr) return;
    task_->clear_hook(this);
    // Torn down while still waiting (a pending task destroyed at loop
    // close): nobody may wake the task any more.
    wait_->end_wait(job_wait::cancelled);
    // A completer inside task->wake() still uses the task: let it finish
    // before the task's memory can go.
    while (wait_->state.load(std::memory_order_acquire) == job_wait::waking)
        __builtin_ia32_pause();
    wait_->release();
}

void job_awaiter_base::await_suspend(std::coroutine_handle<> h) {
    task_record& t = current_task_for_await("an executor future");
    t.link = h;
    event_loop& loop = get_running_loop();
    task_ = &t;
    std::int64_t spin = loop_delivered_ ? 0 : job_spin_ns;  // see the constructor
    wait_ = new job_wait(target_, &t, event_loop::time_ns() + spin);
    cancel = &cancel_wait;
    job_wait* w = wait_;
    // The hook first. The poll callback used to go first, on the grounds
    // that it could only run on this thread after we return; but if the
    // monitor hands this loop to another thread meanwhile (this one was
    // preempted), that thread runs the callback, the job may be done, and
    // the task may resume, finish and be freed while set_hook still holds
    // it. Once the hook is set a cancel may wake the task and this awaiter
    // may go, so only locals are used after it: the callback holds its own
    // reference to `w` (the constructor's), and one that runs after a
    // cancel finds the wait ended and does nothing.
    t.set_hook(this);
    loop.push_ready(event_loop::tag_callback(w));
}

bool job_awaiter_base::cancel_wait(cancel_hook* h, const std::string* message) {
    auto* self = static_cast<job_awaiter_base*>(h);
    job_wait* w = self->wait_;
    if (!w->end_wait(job_wait::cancelled)) return false;  // the result won
    if (message != nullptr) {
        try {
            self->message_ = *message;
            self->has_message_ = true;
        } catch (...) {
            // Out of memory: cancelled without its message.
        }
    }
    // Cancel the job by its future's rule; a result that comes anyway is
    // dropped. Never throws out of a hook.
    try {
        self->target_->cancel(message);
    } catch (...) {
    }
    w->task->wake();
    return true;
}

void job_awaiter_base::finish_wait() {
    if (wait_ != nullptr) {
        task_->clear_hook(this);
        if (wait_->state.load(std::memory_order_acquire) == job_wait::cancelled) {
            task_->end_cancelled_wait(this);  // later cancels were this one
            if (has_message_) throw cancelled_error(message_);
            throw cancelled_error();
        }
    }
    check_cancelled();
    target_->rethrow_if_failed("await");
}

}  // namespace weft::detail
