// The state of one job handed to an executor: a weft future (so that tasks,
// gather, wait and done-callbacks treat it as one) plus the job's phase,
// which decides what cancel() can still do.
//
//   queued --start()--> running --(finish)--> finished
//      \--skip()--> skipped   (cancelled before a worker took it: never runs)
//
// The executor completes the future from its worker thread (or, for a process
// pool, from the event loop that reads the worker's answer); the future's
// done-list wakes awaiting tasks through their loop's thread-safe path.
// Completion and cancellation race on the future's claim: the loser's result
// is dropped (asyncio's run_in_executor after a cancel).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include <weft/future.hpp>

namespace weft::detail {

// What cancel() means for a job's future.
enum class cancel_policy : std::uint8_t {
    // concurrent.futures.Future.cancel(): only a job no worker has taken yet;
    // false once it runs. What executor::submit returns.
    concurrent,
    // asyncio's future from run_in_executor: always cancels the future (unless
    // done); a queued job never runs, a running one is interrupted where the
    // executor can (a process pool kills its worker), else it finishes and
    // its result is dropped.
    asyncio,
};

class job_base {
public:
    enum : std::uint8_t { queued, running, finished, skipped };

    job_base(future_core* core, cancel_policy policy) noexcept : core_(core), policy_(policy) {}
    job_base(const job_base&) = delete;
    job_base& operator=(const job_base&) = delete;

    future_core* core() const noexcept { return core_; }
    cancel_policy policy() const noexcept { return policy_; }
    std::uint8_t phase() const noexcept {
        // acquire: pairs with the executor's release in start()/mark_finished.
        return phase_.load(std::memory_order_acquire);
    }

    // The executor takes the job to run it; false if it was cancelled while
    // queued (then it must not run).
    bool start() noexcept {
        std::uint8_t q = queued;
        // acq_rel: the winner of start() against skip() decides whether the
        // job runs; either side sees the other's earlier writes.
        return phase_.compare_exchange_strong(q, running, std::memory_order_acq_rel);
    }
    // The executor could not hand a started job over after all (its worker
    // vanished before taking it): back to queued, unless cancelled meanwhile.
    bool unstart() noexcept {
        std::uint8_t r = running;
        return !core_->done() &&
               phase_.compare_exchange_strong(r, queued, std::memory_order_acq_rel);
    }
    void mark_finished() noexcept {
        // release: pairs with phase()'s acquire (running() turns false).
        phase_.store(finished, std::memory_order_release);
    }
    // Completes the future with an exception; false if it was cancelled
    // meanwhile (the exception is dropped).
    bool finish_exception(std::exception_ptr e) noexcept {
        mark_finished();
        future_core* f = core_;
        if (!f->try_claim()) return false;
        // concurrent.futures never reports an exception nobody asked for;
        // asyncio reports one that its future kept unretrieved.
        if (policy_ == cancel_policy::concurrent) f->mark_retrieved();
        f->set_exception_claimed(std::move(e));
        f->publish(f_finished | f_has_exception);
        return true;
    }

    // Runs the job on an executor thread (thread pools: the type-erased call).
    void (*execute)(job_base*) noexcept = nullptr;
    // asyncio-policy cancel of a running job: the executor's way to stop it
    // (null: it cannot; the job finishes and its result is dropped).
    void (*interrupt)(job_base*) noexcept = nullptr;
    // The result is read by an event loop (process pool): a thread that runs
    // an event loop must not block on it.
    bool delivered_by_loop = false;

    // cancel() for both policies (the future's ops dispatch here).
    bool cancel_job(const std::string* message) {
        future_core* f = core_;
        if (policy_ == cancel_policy::concurrent) {
            if (!skip()) return false;  // running or over: concurrent.futures says no
            return f->cancel_plain(message);
        }
        if (!f->try_claim()) return false;  // done already
        f->set_cancel_message_claimed(message);
        // Not started: it never will. Running: stop it if the executor can.
        if (!skip() && interrupt != nullptr && phase() == running) interrupt(this);
        f->publish(f_cancelled);
        return true;
    }

    // cancel() through the future's ops, which is how weft itself cancels a
    // job: a task that stops awaiting it (cancelled, or past a wait_for or
    // timeout deadline), wait_for, gather, or the job seen as a weft::future.
    // asyncio's rule whatever the policy, as far as the executor can follow
    // it (asyncio awaits wrap_future's future, which is cancelled at once): a
    // queued job never runs; a running one is stopped where the executor can
    // (a process pool kills its worker, as its own per-call timeout does);
    // one running on a thread declines (false, not done): it finishes
    // unobserved, and a concurrent.futures holder still gets its result.
    bool cancel_awaited(const std::string* message) {
        if (policy_ == cancel_policy::asyncio) return cancel_job(message);
        future_core* f = core_;
        if (skip()) return f->cancel_plain(message);
        if (interrupt == nullptr || phase() != running) return false;
        if (!f->try_claim()) return false;  // finished meanwhile
        f->set_cancel_message_claimed(message);
        interrupt(this);
        f->publish(f_cancelled);
        return true;
    }

private:
    bool skip() noexcept {
        std::uint8_t q = queued;
        return phase_.compare_exchange_strong(q, skipped, std::memory_order_acq_rel);
    }

    future_core* core_;
    cancel_policy policy_;
    std::atomic<std::uint8_t> phase_{queued};
};

// The future half. `Derived` (the executor's job type) supplies the ops, so
// that the last release deletes the whole object.
template <class T>
class job_state : public future_state<T>, public job_base {
public:
    job_state(event_loop* loop, const future_ops* kind_ops, cancel_policy policy,
              std::uint32_t refs) noexcept
        : future_state<T>(loop, kind_ops, refs),
          job_base(static_cast<future_core*>(this), policy) {}

    // Completes the future with a value; false if it was cancelled meanwhile
    // (the value is dropped).
    template <class... A>
    bool finish_value(A&&... value) {
        mark_finished();
        if (!this->try_claim()) return false;
        try {
            this->slot().emplace(std::forward<A>(value)...);
        } catch (...) {
            this->set_exception_claimed(std::current_exception());
            this->publish(f_finished | f_has_exception);
            return true;
        }
        this->publish(std::is_void_v<T> ? std::uint32_t{f_finished}
                                        : std::uint32_t{f_finished | f_has_value});
        return true;
    }
    using job_base::finish_exception;

    template <class Derived>
    static void destroy(future_core* f) noexcept {
        delete static_cast<Derived*>(static_cast<job_state*>(f));
    }
    static bool cancel(future_core* f, const std::string* message) {
        return static_cast<job_state*>(f)->cancel_awaited(message);
    }
    template <class Derived>
    static constexpr future_ops ops_for{&destroy<Derived>, &cancel};
};

// ---- waiting for a job from a plain thread (executor_future::get, wait_for)

// Blocks until `f` is done or `deadline_ns` (event_loop::time_ns clock; < 0:
// no limit) passes; true if done. Raises std::logic_error when called on an
// event loop's thread for a job whose result that loop must read.
bool wait_job(future_core* f, const job_base& job, std::int64_t deadline_ns);

// ---- awaiting a job from a task

// How long an awaiting task first polls its job from the loop before parking
// on the job's done-list. A short job (a trivial call takes a few µs on a
// pool thread that is still spinning for work) then comes back without the
// loop going to sleep in the poller and paying an OS wake-up for it: the
// loop keeps running its other ready work meanwhile, and a long job costs
// only this much polling. Tokio and TBB workers spin before they park for
// the same reason.
inline constexpr std::int64_t job_spin_ns = 50'000;
// For this long the loop polls flat out; after it, it yields the core
// between looks when it has nothing else to run.
inline constexpr std::int64_t job_spin_quiet_ns = 2'000;

// One task waiting for one job. Heap-allocated and counted, because three
// parties reach it and may outlive each other: the awaiter in the task's
// frame, the loop's ready queue while it polls, the job's done-list once
// parked. `state` decides, exactly once, who wakes the task.
struct job_wait final : callback_base, done_node, pooled {
    enum : std::uint8_t {
        polling,    // a poll callback is queued on a loop
        parked,     // on the done-list: the completer wakes the task
        waking,     // a completer is inside task->wake()
        woken,      // the task is woken (or about to run) with the result
        cancelled,  // the cancel hook woke it; the result is not its business
    };

    job_wait(future_core* awaited, task_record* waiter, std::int64_t poll_deadline) noexcept
        : callback_base(&poll, &drop, 2),  // the awaiter's reference and the queue's
          target(awaited),
          task(waiter),
          poll_until(poll_deadline) {
        on_done = &fire;
    }

    future_core* target;  // the awaiter holds a reference to it
    task_record* task;
    std::int64_t poll_until;
    std::atomic<std::uint8_t> state{polling};

    static void poll(callback_base* self);
    static void fire(done_node* self, future_core*) noexcept;
    static void drop(callback_base* self) noexcept { delete static_cast<job_wait*>(self); }

    // Moves polling/parked to `to`; false if someone else ended the wait.
    bool end_wait(std::uint8_t to) noexcept {
        std::uint8_t s = state.load(std::memory_order_acquire);
        while (s == polling || s == parked) {
            // acq_rel: the one transition out of polling/parked; the winner
            // wakes the task, and sees what the other parties wrote before.
            if (state.compare_exchange_weak(s, to, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
                if (s == parked && target->remove_done_node(this)) release();
                return true;
            }
        }
        return false;
    }
};

// The part of executor_future's awaiter that does not depend on T.
class job_awaiter_base : public cancel_hook {
public:
    // `loop_delivered`: the result comes through the loop's own poller (a
    // process pool). Such a wait does not poll: the reply itself wakes the
    // loop from its poller, and a Go-mode worker busy polling would look at
    // its poller only now and then.
    job_awaiter_base(future_core* target, bool loop_delivered) noexcept
        : target_(target), loop_delivered_(loop_delivered) {}
    job_awaiter_base(const job_awaiter_base&) = delete;
    job_awaiter_base& operator=(const job_awaiter_base&) = delete;
    ~job_awaiter_base();

    bool await_ready() const noexcept { return target_->done() && consume_budget(); }
    void await_suspend(std::coroutine_handle<> h);

protected:
    // Leaves the hook and rethrows a cancellation or the job's exception.
    void finish_wait();

    future_core* target_;

private:
    static bool cancel_wait(cancel_hook* self, const std::string* message);

    bool loop_delivered_;
    task_record* task_ = nullptr;
    job_wait* wait_ = nullptr;
    std::string message_;
    bool has_message_ = false;
};

}  // namespace weft::detail
