// The waiters of a synchronization primitive: a FIFO of nodes that live in
// the waiting coroutines' frames (asyncio keeps a deque of futures; weft
// links the awaiters themselves, so waiting allocates nothing).
//
// One spin lock per primitive guards its list and the state of every node in
// it. A node goes idle -> waiting (linked) -> granted (unlinked by whoever
// hands it the event, the lock, the permit, the item) or cancelled
// (unlinked by the task's cancel hook). Both transitions happen under the
// lock, so exactly one of them wins; the winner of `granted` wakes the task,
// after unlocking.
//
// The awaiter follows docs/internals.md. In await_suspend:
//
//     t.link = h; node.prepare(t, list);
//     t.set_hook(&node);                  // may mark the idle node cancelled
//     { lock; if (node.cancelled() || <can proceed now>) { unlock; clear hook; return false; }
//       list.push_back(node); unlock; }   // the last access: may be granted at once
//     return true;
//
// and in await_resume: clear the hook, then node.state() says what happened.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <weft/detail/config.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/errors.hpp>

namespace weft::detail {

// A test-and-test-and-set lock for critical sections of a few instructions
// that never suspend and never call user code.
class spin_lock {
public:
    void lock() noexcept {
        // acquire: pairs with unlock's release.
        while (locked_.exchange(true, std::memory_order_acquire)) {
            while (locked_.load(std::memory_order_relaxed))
                __builtin_ia32_pause();
        }
    }
    bool try_lock() noexcept {
        return !locked_.load(std::memory_order_relaxed) &&
               !locked_.exchange(true, std::memory_order_acquire);
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

class wait_list;
class wake_chain;

class wait_node : public cancel_hook {
public:
    enum state_t : std::uint8_t { idle, waiting, granted, cancelled, orphaned };

    wait_node() noexcept { cancel = &cancel_wait; }
    wait_node(const wait_node&) = delete;
    wait_node& operator=(const wait_node&) = delete;

    // Before set_hook: the task to wake and the list the node will join.
    void prepare(task_record& t, wait_list& l) noexcept {
        task_ = &t;
        list_ = &l;
        state_ = idle;
    }
    // Under the list's lock, or once the task has been woken.
    state_t state() const noexcept { return state_; }
    bool is_cancelled() const noexcept { return state_ == cancelled; }
    task_record* task() const noexcept { return task_; }
    // Throws the cancelled_error the hook was given (after a cancelled wait),
    // as the one delivery of every cancel that reached the task meanwhile.
    [[noreturn]] void throw_cancelled() {
        if (task_ != nullptr) task_->end_cancelled_wait(this);
        if (message_) throw cancelled_error(std::move(*message_));
        throw cancelled_error();
    }
    // After await_resume has cleared the hook, no canceller can reach the
    // node any more: the destructor has nothing to undo.
    void finish() noexcept { list_ = nullptr; }
    // For awaiter destructors: a frame torn down while still waiting (loop
    // close) leaves the list.
    void leave() noexcept;
    // The payload slot a primitive may use (a queue's item, say).
    void* payload = nullptr;

private:
    friend class wait_list;
    friend class wake_chain;
    static bool cancel_wait(cancel_hook* h, const std::string* message);

    wait_node* prev_ = nullptr;
    wait_node* next_ = nullptr;
    task_record* task_ = nullptr;
    wait_list* list_ = nullptr;
    state_t state_ = idle;
    std::unique_ptr<std::string> message_;
};

// Tasks granted under a primitive's lock, to be woken once it is released, in
// the order they were granted. The chain is threaded through the granted nodes
// themselves (a granted node lives until its task is woken), so collecting any
// number of them allocates nothing and cannot fail. Declare it before the
// lock guard: its destructor wakes whatever is left, after the unlock, even
// when the critical section throws.
class wake_chain {
public:
    wake_chain() = default;
    wake_chain(const wake_chain&) = delete;
    wake_chain& operator=(const wake_chain&) = delete;
    ~wake_chain() { wake_all(); }

    bool empty() const noexcept { return head_ == nullptr; }
    void wake_all() noexcept {
        while (wait_node* n = head_) {
            // Read everything first: the node may be gone once its task wakes.
            head_ = n->next_;
            task_record* t = n->task_;
            n->next_ = nullptr;
            t->wake();
        }
        tail_ = nullptr;
    }

private:
    friend class wait_list;
    void append(wait_node* n) noexcept {
        n->next_ = nullptr;
        if (tail_) {
            tail_->next_ = n;
        } else {
            head_ = n;
        }
        tail_ = n;
    }
    wait_node* head_ = nullptr;
    wait_node* tail_ = nullptr;
};

class wait_list {
public:
    wait_list() = default;
    // A list guarded by another list's lock, for a primitive whose state and
    // several lists change together (a queue's getters, putters and joiners).
    // `shared` must outlive this list.
    explicit wait_list(spin_lock& shared) noexcept : lock_(shared) {}
    wait_list(const wait_list&) = delete;
    wait_list& operator=(const wait_list&) = delete;
    // Waiters still queued when the primitive dies are woken with an error
    // rather than left to hang on freed memory.
    ~wait_list();

    spin_lock& mutex() noexcept { return lock_; }

    // ---- with mutex() held
    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return count_; }
    wait_node* front() const noexcept { return head_; }
    // `hint_order` publishes size_hint(): seq_cst for the handshake below; a
    // primitive that reads the list only under its lock passes relaxed.
    void push_back(wait_node* n,
                   std::memory_order hint_order = std::memory_order_seq_cst) noexcept {
        n->state_ = wait_node::waiting;
        n->prev_ = tail_;
        n->next_ = nullptr;
        if (tail_) {
            tail_->next_ = n;
        } else {
            head_ = n;
        }
        tail_ = n;
        ++count_;
        // seq_cst: a waiter links itself, then re-reads the primitive's state;
        // a releaser stores its state, then reads this count (see event::set).
        size_hint_.store(count_, hint_order);
    }
    // Takes `n` back out (a waiter that found it need not wait after all).
    void remove(wait_node* n) noexcept {
        unlink(n);
        n->state_ = wait_node::granted;
    }
    // Unlinks the first waiter and marks it granted; returns its task, to be
    // woken once the lock is released (the node may be gone after that).
    task_record* grant_front() noexcept {
        wait_node* n = head_;
        if (n == nullptr) return nullptr;
        unlink(n);
        n->state_ = wait_node::granted;
        return n->task_;
    }
    // The same, adding the task to `woken` (woken when the chain is); false
    // if nobody waits.
    bool grant_front(wake_chain& woken) noexcept {
        wait_node* n = head_;
        if (n == nullptr) return false;
        unlink(n);
        n->state_ = wait_node::granted;
        woken.append(n);
        return true;
    }
    // Marks a node that was never linked as granted: its waiter found what it
    // wanted under the lock and will not wait. A cancel that reaches the hook
    // before the waiter clears it then leaves the outcome alone (the task gets
    // must_cancel) instead of reporting a cancelled wait for something taken.
    void complete_unlinked(wait_node* n) noexcept { n->state_ = wait_node::granted; }

    // Without the lock: whether anyone may be waiting. Exact for a caller
    // that orders its own store before this load with a seq_cst fence
    // against a waiter that links itself and then re-checks (see event).
    std::size_t size_hint() const noexcept { return size_hint_.load(std::memory_order_seq_cst); }

private:
    friend class wait_node;
    void unlink(wait_node* n) noexcept {
        if (n->prev_) {
            n->prev_->next_ = n->next_;
        } else {
            head_ = n->next_;
        }
        if (n->next_) {
            n->next_->prev_ = n->prev_;
        } else {
            tail_ = n->prev_;
        }
        n->prev_ = n->next_ = nullptr;
        --count_;
        size_hint_.store(count_, std::memory_order_relaxed);
    }

    spin_lock own_lock_;
    spin_lock& lock_ = own_lock_;
    wait_node* head_ = nullptr;
    wait_node* tail_ = nullptr;
    std::size_t count_ = 0;
    std::atomic<std::size_t> size_hint_{0};
};

inline bool wait_node::cancel_wait(cancel_hook* h, const std::string* message) {
    auto* n = static_cast<wait_node*>(h);
    wait_list* l = n->list_;
    if (l == nullptr) return false;
    l->lock_.lock();
    state_t s = n->state_;
    if (s == idle || s == waiting) {
        if (s == waiting) l->unlink(n);
        n->state_ = cancelled;
        if (message) n->message_ = std::make_unique<std::string>(*message);
    }
    l->lock_.unlock();
    // An idle node is not linked yet: its await_suspend sees `cancelled` and
    // does not suspend, so there is nobody to wake.
    if (s == waiting) n->task_->wake();
    return s == idle || s == waiting;
}

inline void wait_node::leave() noexcept {
    wait_list* l = list_;
    if (l == nullptr) return;
    std::lock_guard guard(l->lock_);
    if (state_ == waiting) l->unlink(this);
    state_ = cancelled;
    list_ = nullptr;
}

inline wait_list::~wait_list() {
    std::lock_guard guard(lock_);
    while (wait_node* n = head_) {
        unlink(n);
        n->state_ = wait_node::orphaned;
        n->list_ = nullptr;
        n->task_->wake();
    }
}

}  // namespace weft::detail
