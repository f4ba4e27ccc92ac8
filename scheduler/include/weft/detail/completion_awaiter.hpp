// Awaiting a future or a task: the awaiting task joins the target's done-list
// and is woken (scheduled, as asyncio's Task.__wakeup is) when it completes.
// Cancelling the awaiting task cancels the target, as asyncio does through
// `_fut_waiter`; shield() is how to await without that.
#pragma once

#include <coroutine>
#include <string>
#include <type_traits>
#include <utility>

#include <weft/detail/future_core.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>

namespace weft::detail {

// A counted reference to a future or task of unknown type, handed to the
// runtime's own done-callbacks.
class core_ref {
public:
    static core_ref from_core(future_core* f) noexcept {
        f->add_ref();
        return core_ref(f);
    }
    core_ref(core_ref&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
    core_ref(const core_ref&) = delete;
    ~core_ref() {
        if (f_) f_->release();
    }
    future_core* get() const noexcept { return f_; }

private:
    explicit core_ref(future_core* f) noexcept : f_(f) {}
    future_core* f_;
};

// Done-callbacks of futures and tasks (add_done_callback). `Handle` is what
// the callback receives: task_handle<T>, task_ref or future<T>.
template <class T>
inline constexpr char type_tag = 0;

template <class Handle, class F>
struct done_callback final : callback_node, pooled {
    // Never a copy or move constructor in disguise: a done_callback is made
    // once, in its pooled node, and neither copied nor moved (deleted below).
    template <class G>
    explicit done_callback(G&& g)  // NOLINT(bugprone-forwarding-reference-overload)
        : callback_node(&run, &drop, &type_tag<F>), fn(std::forward<G>(g)) {
        if constexpr (std::equality_comparable<F>) {
            equals = [](const callback_node* self, const void* other) {
                return static_cast<const done_callback*>(self)->fn == *static_cast<const F*>(other);
            };
        } else if constexpr (std::is_empty_v<F>) {
            // A stateless callable (a captureless lambda): same type, same callback.
            equals = [](const callback_node*, const void*) { return true; };
        }
    }
    done_callback(const done_callback&) = delete;
    done_callback& operator=(const done_callback&) = delete;
    static void run(callback_base* b) {
        auto* self = static_cast<done_callback*>(b);
        Handle h = Handle::from_core(self->target);
        self->fn(h);
    }
    static void drop(callback_base* b) noexcept {
        auto* self = static_cast<done_callback*>(b);
        if (self->target) self->target->release();
        delete self;
    }
    F fn;
};

template <class Handle, class F>
void add_done_callback(future_core* f, F&& fn) {
    using D = done_callback<Handle, std::decay_t<F>>;
    auto* node = new D(std::forward<F>(fn));
    if (!f->add_done_node(node)) {
        // Already done: schedule it right away, as asyncio does.
        callback_node::schedule_on_done(node, f);
    }
}

template <class G>
std::size_t remove_done_callback(future_core* f, const G& given) {
    // Decayed as add_done_callback stores it: a function name compares as
    // the function pointer it was stored as.
    using F = std::decay_t<G>;
    const F& fn = given;
    static_assert(std::equality_comparable<F> || std::is_empty_v<F>,
                  "remove_done_callback compares callbacks with ==: pass a function pointer, "
                  "a captureless lambda, or a callable type with operator==");
    return f->remove_done_nodes_if([&](const callback_node* n) {
        return n->tag == &type_tag<F> && n->equals != nullptr && n->equals(n, &fn);
    });
}

// 8 bytes in the awaiting frame: the target. The node on the target's
// done-list is the waiting task's (task_record's done_node base), and whether
// this wait suspended the task is whether it is the task's hook.
class completion_awaiter : public target_wait {
public:
    explicit completion_awaiter(future_core* t) noexcept : target_wait(t) {}
    completion_awaiter(const completion_awaiter&) = delete;
    completion_awaiter& operator=(const completion_awaiter&) = delete;
    ~completion_awaiter() {
        // Still pending: the frame is torn down while its task waits here
        // (a pending task destroyed at loop close). Every wait that ends
        // otherwise ends with its target done.
        if (WEFT_UNLIKELY(!target->done())) abandon_wait(this);
    }

    // Done already: no suspension (in Go mode, until the cooperative budget
    // runs out, when the task yields once so others can run).
    bool await_ready() const noexcept { return target->done() && consume_budget(); }

    bool await_suspend(std::coroutine_handle<> h) {
        task_record& t = current_task_for_await("a future or task");
        t.link = h;
        if (target->done()) {
            event_loop::current()->push_ready(event_loop::tag_task(&t));  // yield
            return true;
        }
        // Go mode: a task spawned here that has not started runs now, in
        // place, and a child that finishes in that step is joined without
        // suspending (fork-join code: most joins).
        if (target->is_task() && go_worker_join_inline(*static_cast<task_record*>(target)) &&
            target->done()) {
            return false;
        }
        t.set_hook(this);  // from here a cancel of the awaiting task reaches the target
        if (!target->add_done_node(t.wait_node())) {
            t.clear_hook(this);
            return false;  // completed meanwhile: go on without suspending
        }
        return true;
    }

protected:
    // Common part of await_resume: leave the hook, honour a pending cancel,
    // and rethrow the target's cancellation or exception.
    void finish_wait() {
        task_record* t = task_record::current();
        if (t != nullptr && t->hook_is(this)) {  // this wait suspended the task
            if (WEFT_UNLIKELY(target->cancelled())) {
                // asyncio throws the target's CancelledError into the task
                // and drops _must_cancel: cancels that came while the task
                // waited on a cancelled target are one delivery, with the
                // target's message.
                t->end_cancelled_wait(this);
                target->rethrow_if_failed("await");
            }
            t->clear_hook(this);
        }
        check_cancelled();
        target->rethrow_if_failed("await");
    }
};

}  // namespace weft::detail
