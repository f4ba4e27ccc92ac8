// The state of a task: a future plus what asyncio's Task adds, kept in the
// promise of the task's root coroutine so that a spawn is one allocation.
//
// Cancellation follows asyncio exactly. While suspended, a task publishes a
// cancel hook for what it waits on (asyncio's `_fut_waiter`): cancel() calls
// the hook, which cancels that wait (an awaited task is cancelled in turn, an
// awaited future is cancelled, a sleep's timer is stopped) and the task wakes
// with cancelled_error. Without a hook (running, or already scheduled) cancel()
// sets `must_cancel` and the next resumption throws instead.
//
// The hook word packs the hook pointer with a lock bit. The lock is held by
// cancel() while it calls the hook, which keeps the waiting awaiter (and so the
// hook) alive: the task clears its hook with a CAS that cannot succeed while
// the lock is held. One CAS to install, one to clear, per hooked suspension.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <string>

#include <weft/detail/assert.hpp>
#include <weft/detail/context_map.hpp>
#include <weft/detail/future_core.hpp>
#include <weft/detail/thread_context.hpp>

namespace weft::detail {

// Implemented by every awaiter that can cancel what it waits for.
struct cancel_hook {
    // Called with the task's hook lock held; cancels the wait so that the task
    // wakes with cancelled_error, and returns true; false if it cannot (the
    // wait already completed), in which case the task gets must_cancel.
    bool (*cancel)(cancel_hook* self, const std::string* message) = nullptr;
};

// A wait on a future or a task (completion_awaiter): its own cancel hook,
// tagged in the hook word (target_tag), whose cancel is the target's. The
// node on the target's done-list is the waiting task's own (a task waits on
// one thing at a time), so an awaiting frame holds just the target.
struct target_wait {
    explicit target_wait(future_core* t) noexcept : target(t) {}
    future_core* target;
};

// The done_node base is the node that puts the task on the done-list of the
// future or task it awaits (completion_awaiter); its on_done wakes the task.
// Private: a task is not handed out as a node but through wait_node().
class task_record : public future_core, private done_node {
public:
    task_record(event_loop* loop, std::uint32_t initial_refs, std::uint32_t initial_flags) noexcept
        : future_core(loop, initial_refs, initial_flags) {
        on_done = &wait_done;
    }

    // The node a wait on a future or task puts on its done-list.
    done_node* wait_node() noexcept { return this; }
    // The task whose wait node `n` is (on_done == &wait_done).
    static task_record* of_wait_node(done_node* n) noexcept { return static_cast<task_record*>(n); }
    // A wait node's on_done: the awaited target completed; wake the task.
    static void wait_done(done_node* n, future_core* completed) noexcept;

    // For the root: the innermost suspended coroutine of the task, which a
    // wake-up resumes. For a coroutine awaited inline: its awaiter.
    std::coroutine_handle<> link;

    // ---- scheduling
    // Makes the suspended task runnable (on this thread's loop when it belongs
    // to the task's scheduler, else through the task's loop's remote queue).
    void wake() noexcept;
    // The loop runs this for each scheduled step.
    void run_step();
    // Go mode: the first step of a task that a join took from this worker's
    // queues before it ran (go_worker_join_inline), run right there, inside
    // the joiner's step: it shares the joiner's cooperative budget and
    // native stack allowance.
    void run_first_step_nested();

    // ---- cancellation
    // asyncio Task.cancel(msg).
    bool request_cancel(const std::string* message);
    // Called by a suspending awaiter, before its wait can complete. Replaces
    // whatever hook is there: in `co_await a + co_await b` a compiler may run
    // b's await_suspend before a's await_resume (the operands' evaluations
    // may overlap), so a resumed awaiter's hook can still be in place.
    //
    // The hook is installed with the lock bit held and the lock is released
    // by the last store: once a canceller can see the hook it may wake the
    // task, which may then finish and be freed on another worker, so nothing
    // here may touch the task after that store.
    void set_hook(cancel_hook* h) noexcept { set_hook_word(hook_of(h)); }
    void set_hook(target_wait* w) noexcept { set_hook_word(hook_of(w)); }
    void set_hook_word(std::uintptr_t word) noexcept {
        std::uintptr_t cur = hook_word_.load(std::memory_order_relaxed);
        for (;;) {
            if (cur & lock_bit) {  // a canceller is at work: wait for it
                __builtin_ia32_pause();
                cur = hook_word_.load(std::memory_order_relaxed);
                continue;
            }
            // acquire: pairs with a canceller's release in unlock, so a
            // must_cancel it set is visible below.
            if (hook_word_.compare_exchange_weak(cur, word | lock_bit, std::memory_order_acquire,
                                                 std::memory_order_relaxed)) {
                break;
            }
        }
        if (WEFT_UNLIKELY(flags(std::memory_order_relaxed) & f_must_cancel))
            cancel_hook_locked(word);
        unlock_hook_word(word);  // publishes the hook; the task is not ours after this
    }
    // Called by the awaiter when the task resumes (or its frame is torn
    // down), before the hook dies: removes `h` unless a later awaiter of the
    // task has replaced it. Waits out a canceller that may be using it.
    void clear_hook(cancel_hook* h) noexcept { clear_hook_word(hook_of(h)); }
    void clear_hook(target_wait* w) noexcept { clear_hook_word(hook_of(w)); }
    void clear_hook_word(std::uintptr_t mine) noexcept {
        std::uintptr_t cur = hook_word_.load(std::memory_order_relaxed);
        for (;;) {
            if (cur & lock_bit) {
                __builtin_ia32_pause();
                cur = hook_word_.load(std::memory_order_relaxed);
                continue;
            }
            if (cur != mine) return;  // not ours (any more)
            // acquire: a canceller's writes made under the lock are seen.
            if (hook_word_.compare_exchange_weak(cur, 0, std::memory_order_acquire,
                                                 std::memory_order_relaxed)) {
                return;
            }
        }
    }
    // For an awaiter about to throw the cancelled_error of a wait its hook
    // cancelled (or of an awaited target that ended cancelled): clears `h` if
    // it is still the hook and drops must_cancel, under the hook lock. A
    // cancel that came after the first and found the wait cancelled already
    // set must_cancel; it is the same cancellation, delivered once, as
    // asyncio's Task.__step clears _must_cancel when what it throws in is a
    // CancelledError already (cancelling() still counts both). Hooks of
    // other awaiters are left alone: a cancel they deferred is theirs.
    void end_cancelled_wait(cancel_hook* h) noexcept { end_cancelled_wait_word(hook_of(h)); }
    void end_cancelled_wait(target_wait* w) noexcept { end_cancelled_wait_word(hook_of(w)); }
    // Whether `w` is the task's hook: the wait it made suspended the task and
    // has not been ended yet (finish_wait, abandon_wait). Relaxed: read by the
    // task's own step, or at teardown with the task's thread gone.
    bool hook_is(target_wait* w) const noexcept {
        return (hook_word_.load(std::memory_order_relaxed) & ~lock_bit) == hook_of(w);
    }

    // The check every weft awaitable makes when it resumes: throws
    // cancelled_error if a cancel arrived while no hook could take it.
    void throw_if_must_cancel() {
        if (WEFT_UNLIKELY(flags(std::memory_order_relaxed) & f_must_cancel)) consume_must_cancel();
    }
    [[noreturn]] void consume_must_cancel();

    // asyncio's cancelling() / uncancel().
    int cancelling() const;
    int uncancel();

    // ---- identity
    std::string name();
    void set_name(std::string name);

    // ---- registry of live tasks (the loop's all_tasks)
    task_record* reg_prev = nullptr;
    task_record* reg_next = nullptr;

    // The task's context (context_var.hpp): a copy of its creator's, taken at
    // create_task; null while the task has no variable set.
    context_ref context;

    // Completes the root coroutine's task: publish the outcome, run the
    // done-list, leave the registry, drop the running reference.
    void complete_root() noexcept;

    // Once a task is done its `link` is free: it chains the task into its
    // home worker's stack of tasks to unlink (event_loop::unregister_task).
    task_record* unlink_next() const noexcept { return static_cast<task_record*>(link.address()); }
    void set_unlink_next(task_record* following) noexcept {
        link = std::coroutine_handle<>::from_address(following);
    }

    static task_record* current() noexcept { return tls_ctx.current_task; }

    // The coroutine frame this task's promise sits in (f_frame_offset_mask).
    void* frame_address() noexcept {
        std::uint32_t shift =
            (flags_.load(std::memory_order_relaxed) & f_frame_offset_mask) >> f_frame_offset_shift;
        return reinterpret_cast<char*>(this) - ((2 * sizeof(void*)) << shift);
    }
    // Whether its first step has run (task dumps: an unstarted task's chain
    // is its root alone).
    bool started() const noexcept { return started_; }

protected:
    // The hook word: the hook's address, bit 0 the lock, bit 1 (target_tag)
    // set when the address is a target_wait's rather than a cancel_hook's.
    static constexpr std::uintptr_t lock_bit = 1;
    static constexpr std::uintptr_t target_tag = 2;
    static std::uintptr_t hook_of(cancel_hook* h) noexcept {
        static_assert(alignof(cancel_hook) > target_tag);
        return reinterpret_cast<std::uintptr_t>(h);
    }
    static std::uintptr_t hook_of(target_wait* w) noexcept {
        static_assert(alignof(target_wait) > target_tag);
        return reinterpret_cast<std::uintptr_t>(w) | target_tag;
    }
    // Calls the hook in `word` (unlocked, not 0): what cancel_hook::cancel returns.
    static bool cancel_hooked(std::uintptr_t word, const std::string* message);
    void end_cancelled_wait_word(std::uintptr_t mine) noexcept;
    std::uintptr_t lock_hook_word() noexcept;
    void unlock_hook_word(std::uintptr_t value) noexcept {
        WEFT_ASSERT(hook_word_.load(std::memory_order_relaxed) & lock_bit,
                    "the hook word is unlocked by the holder of its lock");
        WEFT_ASSERT(!(value & lock_bit), "unlocking stores a hook without the lock bit");
        // release: pairs with the acquire of set_hook/clear_hook/lock.
        hook_word_.store(value, std::memory_order_release);
    }
    // asyncio: suspending with a cancel pending cancels the new wait at once.
    void cancel_hook_locked(std::uintptr_t word) noexcept;

    // ---- the cancellation flags' transitions (Tokio's transition_to_*),
    // each asserting the state it leaves. The flags word is shared with the
    // completion bits (future_core), so these are relaxed RMWs of their own
    // bits only; what orders them is the hook lock they are made under.
    //
    //   (none) --request_cancel finds no hook--> must_cancel [+ by_self]
    //   must_cancel --a wait takes it, or it is thrown, or the task ends--> (none)
    //   running --the coroutine ends by cancelled_error--> cancel_outcome
    //
    // A cancel is pending: the next resumption (or suspension) takes it.
    // Under the hook lock, while the task is not done.
    void transition_to_must_cancel(bool by_self) noexcept;
    // The pending cancel was delivered (or lost the race to the task's end):
    // under the hook lock.
    void transition_from_must_cancel() noexcept;
    // The task's coroutine ended by cancelled_error: its outcome is
    // cancelled. Only the step that runs the task, before it is published.
    void transition_to_cancel_outcome() noexcept;

private:
    // Marks the first step taken; false if a cancel came first, in which
    // case the task has its cancelled outcome and is to be completed.
    bool start() noexcept;
    // A step as the thread's current task: `resume` is resume_from_driver
    // (a step of its own) or resume_nested (inside a join's step).
    void step(thread_context& ctx, void (*resume)(std::coroutine_handle<>));

    std::atomic<std::uintptr_t> hook_word_{0};

protected:
    // Whether the first step has run. Plain: steps of one task never overlap,
    // and the queues order one step before the next. Last, so that a
    // promise's own small fields fill the tail padding after it (a frame
    // is 8 bytes smaller).
    bool started_ = false;
};

// Throws cancelled_error for a pending cancellation of the current task.
inline void check_cancelled() {
    if (task_record* t = tls_ctx.current_task) t->throw_if_must_cancel();
}

// The task to suspend from an awaiter; throws if a weft awaitable is awaited
// outside any task (it would have nothing to wake).
task_record& current_task_for_await(const char* what);

// A frame torn down while its task waits in it on `w` (a pending task
// destroyed at loop close): takes the task's hook and its node on the
// target's list away, so that the target's completion never reaches them.
void abandon_wait(target_wait* w) noexcept;

}  // namespace weft::detail
