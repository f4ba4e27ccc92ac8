// One wait on a wait_list, for the slow paths of the primitives whose waiters
// re-check after a wake-up (queue getters and putters, queue joiners), in the
// order docs/internals.md prescribes: hook first, then, under the list's lock,
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

#include <weft/detail/config.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/wait_list.hpp>

namespace weft::detail {

enum class wait_result { proceeded, woken };

template <class Attempt>
class list_wait {
public:
    list_wait(wait_list& list, Attempt attempt, const char* what) noexcept
        : list_(list), attempt_(std::move(attempt)), what_(what) {}
    list_wait(const list_wait&) = delete;
    list_wait& operator=(const list_wait&) = delete;
    ~list_wait() {
        if (WEFT_UNLIKELY(task_ != nullptr)) {  // a frame torn down while waiting
            task_->clear_hook(&node_);
            node_.leave();
        }
    }

    bool await_ready() const noexcept { return false; }

    bool await_suspend(std::coroutine_handle<> h) {
        task_record& t = current_task_for_await(what_);
        t.link = h;
        node_.prepare(t, list_);
        t.set_hook(&node_);  // a pending cancel marks the idle node cancelled
        task_ = &t;
        wake_chain woken;  // destroyed after the guard: wakes after the unlock
        std::lock_guard held(list_.mutex());
        if (node_.is_cancelled()) return false;
        if (attempt_(woken)) {
            list_.complete_unlinked(&node_);
            proceeded_ = true;
            return false;
        }
        // Relaxed: the primitives that wait through here read their lists
        // only under the lock (none uses size_hint's handshake).
        list_.push_back(&node_, std::memory_order_relaxed);
        return true;  // the unlock publishes the node: nothing is touched after it
    }

    wait_result await_resume() {
        task_->clear_hook(&node_);
        task_ = nullptr;
        wait_node::state_t s = node_.state();
        node_.finish();
        if (s == wait_node::cancelled) node_.throw_cancelled();
        if (s == wait_node::orphaned) {
            throw std::logic_error(std::string(what_) +
                                   ": the object was destroyed while a task was waiting on it");
        }
        return proceeded_ ? wait_result::proceeded : wait_result::woken;
    }

private:
    wait_list& list_;
    Attempt attempt_;
    const char* what_;
    task_record* task_ = nullptr;
    bool proceeded_ = false;
    wait_node node_;
};

}  // namespace weft::detail
