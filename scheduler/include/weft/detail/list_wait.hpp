// list_waiter: the protocol every wait on a wait_list follows.
//
// list_wait: one wait on a wait_list, for the slow paths of the primitives
// whose waiters re-check after a wake-up (queue getters and putters, queue
// joiners), in the order docs/internals.md prescribes: hook first, then, under the list's lock,
// one more attempt, and only if that fails the registration, as the last thing
// touched.
//
//     auto r = co_await list_wait(list, [&](wake_chain& woken) { ...; return done; }, "what");
//
// The attempt runs under the list's lock, after the cancel hook is in place;
// it returns true when the caller need not wait (it did what it came for, or
// found a reason to fail, which it records for the caller), and may grant
// other waiters through `woken` (woken after the unlock). await_resume says
// whether the attempt succeeded (`proceeded`) or a waker granted the node
// (`woken`); it throws cancelled_error for a wait cancelled through the hook
// and std::logic_error if the primitive was destroyed under the waiter. It
// does not check for a cancel that arrived after the grant: the caller does,
// because it may have to hand the grant on first.
#pragma once

#include <atomic>
#include <coroutine>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include <weft/detail/assert.hpp>
#include <weft/detail/config.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/wait_list.hpp>

namespace weft::detail {

// What every awaiter that waits on a wait_list shares (lock, semaphore,
// condition and event, and list_wait below): the node and the task whose
// cancel hook points at it, set up in the order docs/internals.md
// prescribes, and the ways out: resumed (unhook), or torn down while
// waiting (the destructor). The awaiter adds what is its own: its fast
// path, and what it links under the list's lock.
class list_waiter {
public:
    list_waiter() = default;
    list_waiter(const list_waiter&) = delete;
    list_waiter& operator=(const list_waiter&) = delete;
    ~list_waiter() {
        if (WEFT_UNLIKELY(task_ != nullptr)) {  // a frame torn down while waiting
            task_->clear_hook(&node_);
            node_.leave();
        }
    }

    // The prologue, before the list's lock is taken: prepares the node for
    // `list` and makes it `t`'s cancel hook. A cancel already pending marks
    // the idle node cancelled: look at node().is_cancelled() under the lock
    // before linking it.
    void hook(task_record& t, wait_list& list) noexcept {
        node_.prepare(t, list);
        t.set_hook(&node_);
        task_ = &t;
    }
    // Whether hook() ran and unhook() has not yet.
    bool hooked() const noexcept { return task_ != nullptr; }
    wait_node& node() noexcept { return node_; }

    // The epilogue, once the task resumes: removes the hook and returns how
    // the wait ended (granted, or idle if the awaiter completed the node
    // itself). A wait cancelled through the hook runs `on_cancelled` (what
    // the primitive must undo first), then throws cancelled_error; a wait
    // whose primitive was destroyed under it throws std::logic_error naming
    // `what`.
    template <class OnCancelled>
    wait_node::state_t unhook(const char* what, OnCancelled on_cancelled) {
        WEFT_ASSERT(task_ != nullptr, "unhook follows hook, once");
        task_->clear_hook(&node_);
        task_ = nullptr;
        wait_node::state_t s = node_.state();
        node_.finish();
        if (s == wait_node::cancelled) {
            on_cancelled();
            node_.throw_cancelled();
        }
        if (WEFT_UNLIKELY(s == wait_node::orphaned)) throw_orphaned(what);
        return s;
    }
    wait_node::state_t unhook(const char* what) {
        return unhook(what, [] {});
    }

private:
    [[noreturn]] static void throw_orphaned(const char* what) {
        throw std::logic_error(std::string(what) +
                               ": the object was destroyed while a task was waiting on it");
    }

    task_record* task_ = nullptr;
    wait_node node_;
};

enum class wait_result { proceeded, woken };

template <class Attempt>
class list_wait {
public:
    list_wait(wait_list& list, Attempt attempt, const char* what) noexcept
        : list_(list), attempt_(std::move(attempt)), what_(what) {}
    list_wait(const list_wait&) = delete;
    list_wait& operator=(const list_wait&) = delete;
    bool await_ready() const noexcept { return false; }

    bool await_suspend(std::coroutine_handle<> h) {
        task_record& t = current_task_for_await(what_);
        t.link = h;
        waiter_.hook(t, list_);
        wake_chain woken;  // destroyed after the guard: wakes after the unlock
        std::lock_guard held(list_.mutex());
        if (waiter_.node().is_cancelled()) return false;
        if (attempt_(woken)) {
            list_.complete_unlinked(&waiter_.node());
            proceeded_ = true;
            return false;
        }
        // Relaxed: the primitives that wait through here read their lists
        // only under the lock (none uses size_hint's handshake).
        list_.push_back(&waiter_.node(), std::memory_order_relaxed);
        return true;  // the unlock publishes the node: nothing is touched after it
    }

    wait_result await_resume() {
        waiter_.unhook(what_);
        return proceeded_ ? wait_result::proceeded : wait_result::woken;
    }

private:
    wait_list& list_;
    Attempt attempt_;
    const char* what_;
    bool proceeded_ = false;
    list_waiter waiter_;
};

}  // namespace weft::detail
