// Task steps, asyncio's cancellation protocol, names, and the completion of a
// task's root coroutine.
#include <atomic>
#include <string>

#include <weft/detail/completion_awaiter.hpp>
#include <weft/detail/go_worker.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>
#include <weft/task.hpp>

namespace weft::detail {

// What every idle task pays (weft-bench's idle_memory): its promise and the
// awaiter it waits in, in pointers. A field added here is paid a million
// times over: move rare state to future_extras instead.
static_assert(sizeof(task_record) <= 12 * sizeof(void*), "task_record grew");
static_assert(sizeof(completion_awaiter) <= sizeof(void*), "completion_awaiter grew");

__thread thread_context tls_ctx;

void destroy_task_frame(future_core* task) noexcept {
    void* frame = static_cast<task_record*>(task)->frame_address();
    std::coroutine_handle<>::from_address(frame).destroy();
}

bool cancel_task(future_core* task, const std::string* message) {
    return static_cast<task_record*>(task)->request_cancel(message);
}

void task_record::wait_done(done_node* n, future_core*) noexcept {
    of_wait_node(n)->wake();  // the task may run (and wait again) from here on
}

void abandon_wait(target_wait* w) noexcept {
    // Find the task by its hook: the node on the list is the task itself.
    // Under the target's callback lock, so that the list holds still; the
    // hook is cleared before the node leaves, as a cancel could otherwise
    // still reach the target through it.
    done_node* node = w->target->find_done_node([w](done_node* n) {
        return n->on_done == &task_record::wait_done && task_record::of_wait_node(n)->hook_is(w);
    });
    if (node == nullptr) return;  // taken by a completer meanwhile
    task_record* waiter = task_record::of_wait_node(node);
    waiter->clear_hook(w);
    w->target->remove_done_node(node);
}

std::coroutine_handle<> transfer_to(std::coroutine_handle<> next) noexcept {
    thread_context& ctx = tls_ctx;
    if (static_cast<char*>(__builtin_frame_address(0)) < ctx.stack_limit) {
        ctx.bounce = next.address();
        return std::noop_coroutine();
    }
    return next;
}

void task_record::wake() noexcept {
    event_loop* cur = tls_ctx.loop;
    if (WEFT_LIKELY(cur == loop_)) {
        cur->push_wake(event_loop::tag_task(this));
    } else {
        event_loop::schedule(loop_, event_loop::tag_task(this), true);
    }
}

void task_record::run_step() {
    thread_context& ctx = tls_ctx;
    ctx.budget = ctx.loop != nullptr && ctx.loop->worker() != nullptr ? coop_budget : 1 << 30;
    step(ctx, &resume_from_driver);
}

void task_record::run_first_step_nested() {
    WEFT_ASSERT(!started_, "a task is run inside a join only before its first step");
    step(tls_ctx, &resume_nested);
}

void task_record::step(thread_context& ctx, void (*resume)(std::coroutine_handle<>)) {
    task_record* outer = ctx.current_task;
    ctx.current_task = this;
    if (WEFT_UNLIKELY(!started_) && !start()) {
        ctx.current_task = outer;
        complete_root();
        return;
    }
    resume(link);  // `this` may be gone once this returns
    ctx.current_task = outer;
}

bool task_record::start() noexcept {
    started_ = true;  // only the thread running a step touches it
    if (WEFT_LIKELY(!(flags(std::memory_order_relaxed) & f_must_cancel))) return true;
    // Cancelled before its first step: the coroutine never starts, as when
    // asyncio throws CancelledError into an unstarted coroutine.
    std::uintptr_t w = lock_hook_word();
    transition_from_must_cancel();
    unlock_hook_word(w);
    transition_to_cancel_outcome();
    return false;
}

std::uintptr_t task_record::lock_hook_word() noexcept {
    // acquire: pairs with the release in unlock_hook_word and set_hook.
    std::uintptr_t w = hook_word_.fetch_or(lock_bit, std::memory_order_acquire);
    while (w & lock_bit) {
        __builtin_ia32_pause();
        w = hook_word_.fetch_or(lock_bit, std::memory_order_acquire);
    }
    return w;
}

bool task_record::request_cancel(const std::string* message) {
    if (done()) return false;
    std::uintptr_t w = lock_hook_word();
    future_extras& ex = extras();
    ++ex.cancel_requests;
    if (w == 0 || !cancel_hooked(w, message)) {
        // Running, or already scheduled: the next resumption throws.
        ex.has_cancel_message = message != nullptr;
        ex.cancel_message = message ? *message : std::string();
        // Relaxed: published by the release in unlock_hook_word, and read
        // again under the lock before it is acted on.
        transition_to_must_cancel(tls_ctx.current_task == this);
    }
    unlock_hook_word(w);
    return true;
}

void task_record::transition_to_must_cancel(bool by_self) noexcept {
    WEFT_ASSERT(hook_word_.load(std::memory_order_relaxed) & lock_bit,
                "a cancel is made pending with the task's hook lock held");
    // Relaxed: published by the release in unlock_hook_word, and read again
    // under the lock before it is acted on. The task may finish on its own
    // worker meanwhile (publishing takes no hook lock): the flag is then
    // left on a done task, where nothing reads it.
    flags_.fetch_or(f_must_cancel | (by_self ? f_cancel_by_self : 0u), std::memory_order_relaxed);
}

void task_record::transition_from_must_cancel() noexcept {
    WEFT_ASSERT(hook_word_.load(std::memory_order_relaxed) & lock_bit,
                "a pending cancel is taken with the task's hook lock held");
    [[maybe_unused]] std::uint32_t before =
        flags_.fetch_and(all_but(f_must_cancel | f_cancel_by_self), std::memory_order_relaxed);
    WEFT_ASSERT(before & f_must_cancel, "only a pending cancel is taken");
}

void task_record::transition_to_cancel_outcome() noexcept {
    WEFT_ASSERT(!(flags(std::memory_order_relaxed) & f_done_mask),
                "a task's outcome is set before it is published");
    flags_.fetch_or(f_cancel_outcome, std::memory_order_relaxed);
}

bool task_record::cancel_hooked(std::uintptr_t word, const std::string* message) {
    WEFT_ASSERT(word != 0 && !(word & lock_bit), "a hook is called by its address");
    if (word & target_tag)
        return reinterpret_cast<target_wait*>(word & ~target_tag)->target->cancel(message);
    auto* hook = reinterpret_cast<cancel_hook*>(word);
    return hook->cancel(hook, message);
}

void task_record::cancel_hook_locked(std::uintptr_t word) noexcept {
    WEFT_ASSERT(hook_word_.load(std::memory_order_relaxed) & lock_bit,
                "a hook is cancelled with the task's hook lock held");
    const future_extras* ex = extras_;
    const std::string* msg = (ex && ex->has_cancel_message) ? &ex->cancel_message : nullptr;
    if (cancel_hooked(word, msg)) transition_from_must_cancel();
}

void task_record::end_cancelled_wait_word(std::uintptr_t mine) noexcept {
    std::uintptr_t w = lock_hook_word();
    // 0: the awaiter cleared its hook already (it resumed, or its wait was
    // cancelled before it could suspend); a cancel landing since is one
    // that raced the wake-up, merged like one that came a moment earlier.
    if (w == 0 || w == mine) {
        if (flags(std::memory_order_relaxed) & f_must_cancel) transition_from_must_cancel();
        w = 0;
    }
    unlock_hook_word(w);
}

void task_record::consume_must_cancel() {
    std::uintptr_t w = lock_hook_word();
    transition_from_must_cancel();
    cancelled_error err;
    if (extras_ != nullptr && extras_->has_cancel_message)
        err = cancelled_error(extras_->cancel_message);
    unlock_hook_word(w);
    // Made under the hook lock (the message lives in extras_), thrown after it.
    throw err;  // NOLINT(misc-throw-by-value-catch-by-reference)
}

int task_record::cancelling() const {
    auto* self = const_cast<task_record*>(this);
    std::uintptr_t w = self->lock_hook_word();
    int n = extras_ ? extras_->cancel_requests : 0;
    self->unlock_hook_word(w);
    return n;
}

int task_record::uncancel() {
    std::uintptr_t w = lock_hook_word();
    int n = 0;
    if (extras_ != nullptr) {
        if (extras_->cancel_requests > 0) --extras_->cancel_requests;
        n = extras_->cancel_requests;
    }
    unlock_hook_word(w);
    return n;
}

std::string task_record::name() {
    static std::atomic<std::uint64_t> counter{0};
    std::uintptr_t w = lock_hook_word();
    future_extras& ex = extras();
    if (!ex.has_name) {
        // Relaxed: only uniqueness matters. Names are given on first request,
        // so numbering follows the order in which names are asked for.
        ex.name = "Task-" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed) + 1);
        ex.has_name = true;
    }
    std::string n = ex.name;
    unlock_hook_word(w);
    return n;
}

void task_record::set_name(std::string name) {
    std::uintptr_t w = lock_hook_word();
    future_extras& ex = extras();
    ex.name = std::move(name);
    ex.has_name = true;
    unlock_hook_word(w);
}

void task_record::complete_root() noexcept {
    std::uint32_t fl = flags(std::memory_order_relaxed);
    std::uint32_t outcome;
    if (fl & f_cancel_outcome) {
        outcome = f_cancelled;
    } else if (fl & f_threw) {
        outcome = f_finished | f_has_exception;
    } else if ((fl & f_must_cancel) && ((fl & f_cancel_by_self) || loop_->worker() == nullptr)) {
        // asyncio: a task that returns while a cancel is pending ends
        // cancelled. On one thread that cancel can only have come from the
        // task's own step. In Go mode another worker's cancel may land while
        // the step runs, after its last cancellation point: the step has
        // done its work (a read took bytes out of a socket) and dropping
        // the result would lose it, so the cancel lost the race, as one
        // arriving after the task was done would have.
        outcome = f_cancelled;
    } else {
        outcome = f_finished;
    }
    if (fl & f_must_cancel) {
        std::uintptr_t w = lock_hook_word();
        transition_from_must_cancel();
        unlock_hook_word(w);
    }
    // Nobody else completes a task: it publishes without a claim.
    publish(outcome);
    // Leave the registry and drop the running reference, which may destroy
    // the frame. Finished on another worker, the home worker does both.
    if (loop_->unregister_task(this)) release();
}

void task_promise_base::unhandled_exception() noexcept {
    if (!(flags(std::memory_order_relaxed) & f_spawned)) {
        // Awaited inline: only this thread sees it; the awaiter rethrows it.
        store_exception(std::current_exception());
        flags_.fetch_or(f_threw, std::memory_order_relaxed);
        return;
    }
    // A task whose coroutine raises cancelled_error ends cancelled, with the
    // error's message (asyncio: super().cancel(msg=exc_msg)).
    try {
        throw;
    } catch (const cancelled_error& e) {
        std::uintptr_t w = lock_hook_word();
        future_extras* ex = nullptr;
        try {
            ex = &extras();
        } catch (...) {
        }
        if (ex) {
            ex->cancel_message = e.message();
            ex->has_cancel_message = !e.message().empty();
        }
        unlock_hook_word(w);
        transition_to_cancel_outcome();
    } catch (...) {
        // Under the hook lock: a canceller may be making the extras too.
        std::uintptr_t w = lock_hook_word();
        store_exception(std::current_exception());
        unlock_hook_word(w);
        // Relaxed: read by this step's complete_root.
        flags_.fetch_or(f_threw, std::memory_order_relaxed);
    }
}

task_record& current_task_for_await(const char* what) {
    task_record* t = tls_ctx.current_task;
    if (t == nullptr) {
        throw std::logic_error(std::string(what) +
                               " awaited outside a task: run it with weft::run or create_task");
    }
    return *t;
}

}  // namespace weft::detail
