// The state shared by asyncio-style futures and tasks: pending -> finished or
// cancelled, a result or exception, and an ordered list of what to do on
// completion (wake an awaiting task, schedule a done-callback).
//
// Safe across threads (Go mode): any thread may complete a future, await it or
// add callbacks. The done-list is a lock-free stack of intrusive nodes closed
// by the completer with one exchange; the rare removal of a callback takes a
// small lock that the completer checks after closing (remove_done_nodes_if).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include <weft/detail/assert.hpp>
#include <weft/detail/callback.hpp>
#include <weft/detail/config.hpp>
#include <weft/errors.hpp>

namespace weft {
class event_loop;
}

namespace weft::detail {

class future_core;

// An entry in a future's done-list. `on_done` runs once, on the completing
// thread, right after completion; it must not throw. Awaiter nodes live in the
// awaiting coroutine's frame; callback nodes are heap objects.
struct done_node {
    done_node* next = nullptr;
    void (*on_done)(done_node* self, future_core* completed) noexcept = nullptr;
};

// What differs between kinds of plain future (plain_future_core), dispatched
// without a vtable in the object: how to free it, and what asyncio's cancel()
// means for it. A task needs neither: its frame is freed through the
// coroutine's own destroy, and its cancel is always request_cancel.
struct future_ops {
    void (*destroy)(future_core*) noexcept;
    // Returns what asyncio's cancel() returns.
    bool (*cancel)(future_core*, const std::string* message);
};

// Rarely used state, allocated on first use.
struct future_extras : pooled {
    // The exception a future failed with (f_has_exception), or a task's
    // coroutine raised (f_threw): failing is the rare case, and outside it
    // the word would be paid by every task's frame.
    std::exception_ptr exception;
    std::string name;
    std::string cancel_message;
    bool has_name = false;
    bool has_cancel_message = false;
    int cancel_requests = 0;  // tasks: asyncio's cancelling()
};

// Bits of a future's state, as flags() returns them. The outcome bits (the
// first four) live in their own word, `outcome_`, written once, by a plain
// release store of the one completer; the rest in `flags_`, which other
// threads change with RMWs (a canceller's must_cancel, a remover's cb_lock).
// Apart, publishing needs no RMW of its own beyond closing the done-list.
enum : std::uint32_t {
    f_finished = 1u << 0,       // done with a result or an exception
    f_cancelled = 1u << 1,      // done by cancellation
    f_has_value = 1u << 2,      // typed storage holds a value
    f_has_exception = 1u << 3,  // extras_->exception is set
    f_outcome_mask = f_finished | f_cancelled | f_has_value | f_has_exception,
    f_completing = 1u << 4,  // a completer has claimed the future
    f_retrieved = 1u << 5,   // the exception was looked at: nothing to report
    f_is_task = 1u << 6,
    f_spawned = 1u << 7,          // a task's root coroutine (else awaited inline)
    f_must_cancel = 1u << 8,      // cancel at the next resumption (asyncio _must_cancel)
    f_cancel_by_self = 1u << 9,   // ...requested by the task's own step (task_record.cpp)
    f_cb_lock = 1u << 10,         // held while a callback is being removed
    f_threw = 1u << 11,           // a task's coroutine raised (extras_->exception)
    f_cancel_outcome = 1u << 12,  // a task's coroutine ended by cancellation
    // Bits 13-14 of a task: its promise sits (16 << n) bytes into its
    // coroutine frame (the frame's two function pointers, rounded up to the
    // promise's alignment), so that the frame is found without a pointer.
    f_frame_offset_shift = 13,
    f_frame_offset_mask = 3u << f_frame_offset_shift,
    f_done_mask = f_finished | f_cancelled,
};

class future_core {
public:
    future_core(event_loop* loop, std::uint32_t initial_refs, std::uint32_t initial_flags) noexcept
        : refs_(initial_refs), flags_(static_cast<std::uint16_t>(initial_flags)), loop_(loop) {
        WEFT_ASSERT((initial_flags & f_outcome_mask) == 0 && initial_flags <= 0xffff,
                    "a future starts pending, with state bits that fit flags_");
    }
    future_core(const future_core&) = delete;
    future_core& operator=(const future_core&) = delete;

    // ---- lifetime
    void add_ref() noexcept {
        // Relaxed: a reference is copied from one that keeps the object alive.
        [[maybe_unused]] std::uint32_t before = refs_.fetch_add(1, std::memory_order_relaxed);
        WEFT_ASSERT(before != 0, "a reference is copied from a live one");
    }
    void release() noexcept {
        // The last reference: nobody can take a new one without holding one
        // (add_ref copies a live reference; the registry's walkers see a task
        // only while its running reference is held), so no other thread can
        // change the count: destroy without a locked RMW. In fork-join code
        // the handle that awaited a finished child is usually the last.
        // acquire: pairs with the other holders' releasing fetch_sub, so
        // their writes are seen before the destroy.
        if (refs_.load(std::memory_order_acquire) == 1) {
            destroy();
            return;
        }
        // acq_rel: the final release sees all writes made through other refs.
        std::uint32_t before = refs_.fetch_sub(1, std::memory_order_acq_rel);
        WEFT_ASSERT(before != 0, "a future is released at most as often as it is referenced");
        if (before == 1) destroy();
    }

    // ---- state (acquire: pairs with the release in publish(), so that a
    // caller seeing "done" also sees the result)
    std::uint32_t flags(std::memory_order mo = std::memory_order_acquire) const noexcept {
        return std::uint32_t{outcome_.load(mo)} | flags_.load(mo);
    }
    bool done() const noexcept { return (flags() & f_done_mask) != 0; }
    bool cancelled() const noexcept { return (flags() & f_cancelled) != 0; }
    bool is_task() const noexcept { return (flags(std::memory_order_relaxed) & f_is_task) != 0; }
    event_loop* loop() const noexcept { return loop_; }

    // ---- completion
    // Claims the right to complete; false if someone else already did.
    bool try_claim() noexcept {
        // acq_rel: the winner's later writes to the result are ordered after
        // the claim; a loser learns the future is (being) completed.
        return (flags_.fetch_or(f_completing, std::memory_order_acq_rel) & f_completing) == 0;
    }
    // After a successful claim: store the exception (the typed layer stores
    // values), then publish. Cancellation stores the message.
    void set_exception_claimed(std::exception_ptr e) noexcept { store_exception(std::move(e)); }
    void set_cancel_message_claimed(const std::string* message);
    // Makes the outcome visible and runs the done-list. `outcome` is f_finished
    // (with f_has_value or f_has_exception) or f_cancelled.
    void publish(std::uint32_t outcome) noexcept;

    // asyncio Future.cancel() for plain futures: complete as cancelled.
    bool cancel_plain(const std::string* message);
    // Dispatches to this kind's cancel (a task requests cancellation instead).
    bool cancel(const std::string* message);
    // After cancel() returned false: whether the future declined, rather than
    // being done (or being completed) already. Only an executor's job does:
    // one running on a thread that cannot be stopped completes on its own
    // later. Whoever waits for it stops waiting, as asyncio's wrap_future
    // cancels its own future whatever the job does.
    bool declined_cancel() const noexcept { return (flags() & (f_completing | f_done_mask)) == 0; }

    // ---- results (only once done)
    // Null unless the future failed (or a task's coroutine raised).
    const std::exception_ptr& exception_unchecked() const noexcept;
    // asyncio's _make_cancelled_error: a cancelled_error carrying the message.
    cancelled_error make_cancelled_error() const;
    // Throws cancelled_error if cancelled, the stored exception if failed, and
    // invalid_state_error if still pending. Marks the exception retrieved.
    void rethrow_if_failed(const char* what) {
        std::uint32_t fl = flags();
        if (WEFT_LIKELY((fl & (f_done_mask | f_has_exception)) == f_finished)) return;
        rethrow_failure(fl, what);
    }
    void mark_retrieved() noexcept {
        // Relaxed: the flag only suppresses a diagnostic in the destructor,
        // which runs after the final release (acq_rel) anyway.
        flags_.fetch_or(f_retrieved, std::memory_order_relaxed);
    }

    // ---- done-list
    // Appends `n`; returns false (and does not append) if already completed.
    bool add_done_node(done_node* n) noexcept {
        // acquire on failure/load: nothing is read through the head here, but
        // seeing `closed` must mean the outcome is visible to the caller.
        done_node* head = done_list_.load(std::memory_order_acquire);
        do {
            if (head == closed()) return false;
            n->next = head;
            // release: publishes the node's fields to the completer's exchange.
        } while (!done_list_.compare_exchange_weak(head, n, std::memory_order_release,
                                                   std::memory_order_acquire));
        return true;
    }
    // Unlinks every callback node for which `pred(node)` holds and drops the
    // list's reference to it; returns how many. A node already taken by a
    // completer is not unlinked: it runs.
    template <class Pred>
    std::size_t remove_done_nodes_if(Pred pred) noexcept;
    // Unlinks `node` (of any kind); false if a completer already took it, in
    // which case its on_done runs (or has run).
    bool remove_done_node(done_node* node) noexcept;
    // The first node on the list for which `pred(node)` holds, or null; read
    // under the callback lock, so that the list holds still meanwhile.
    template <class Pred>
    done_node* find_done_node(Pred pred) noexcept;

    // ---- extras: callers hold the task's hook lock (see task_record) or the
    // claim (futures)
    future_extras& extras();
    const future_extras* extras_if_any() const noexcept { return extras_; }

protected:
    // Keeps `e` in the extras. Where they cannot be allocated, the failure
    // is still reported: exception_unchecked() gives std::bad_alloc then.
    void store_exception(std::exception_ptr e) noexcept;

    // Destroyed only through destroy(). The common cases (finished
    // without an exception, no extras; or never published and nothing on
    // the list, as every coroutine awaited inline) do nothing here.
    ~future_core() {
        if (WEFT_UNLIKELY((flags(std::memory_order_relaxed) & f_has_exception) ||
                          extras_ != nullptr || holds_done_nodes())) {
            destroy_slow();
        }
    }
    // Whether the list has nodes that never ran: neither empty (nullptr)
    // nor closed by a completer (closed(), 1).
    bool holds_done_nodes() const noexcept {
        return reinterpret_cast<std::uintptr_t>(done_list_.load(std::memory_order_relaxed)) > 1;
    }
    void destroy_slow() noexcept;
    [[noreturn]] void rethrow_failure(std::uint32_t fl, const char* what);

    static done_node* closed() noexcept { return reinterpret_cast<done_node*>(std::uintptr_t{1}); }
    // The mask that clears `bits` from flags_ (fetch_and's operand, in its width).
    static constexpr std::uint16_t all_but(std::uint32_t bits) noexcept {
        return static_cast<std::uint16_t>(~bits);
    }
    void lock_callbacks() noexcept;
    template <class Match, class OnUnlinked>
    std::size_t unlink_done_nodes(Match match, OnUnlinked on_unlinked) noexcept;
    void unlock_callbacks() noexcept {
        // release: the unlinks made under the lock are visible to a completer
        // that waited for it (its acquire load in publish()).
        [[maybe_unused]] std::uint32_t before =
            flags_.fetch_and(all_but(f_cb_lock), std::memory_order_release);
        WEFT_ASSERT(before & f_cb_lock, "unlock_callbacks is called with the lock held");
    }

    std::atomic<std::uint32_t> refs_;
    std::atomic<std::uint16_t> flags_;       // f_* bits but the outcome's
    std::atomic<std::uint16_t> outcome_{0};  // f_outcome_mask bits, set by publish
    std::atomic<done_node*> done_list_{nullptr};
    event_loop* loop_;
    future_extras* extras_ = nullptr;

private:
    // Frees the object: a task's frame (destroy_task_frame) or a plain
    // future through its ops.
    void destroy() noexcept;

    friend class task_record;
};

// A future that is not a task: a promise's future, a gather's, an executor's
// job. Its kind's operations come with it (future_ops).
class plain_future_core : public future_core {
public:
    plain_future_core(const future_ops* ops, event_loop* loop, std::uint32_t initial_refs,
                      std::uint32_t initial_flags) noexcept
        : future_core(loop, initial_refs, initial_flags), ops_(ops) {
        WEFT_ASSERT(!(initial_flags & f_is_task), "a plain future is not a task");
    }

private:
    const future_ops* ops_;
    friend class future_core;
};

// A task's half of destroy() and cancel() (task_record.cpp).
void destroy_task_frame(future_core* task) noexcept;
bool cancel_task(future_core* task, const std::string* message);

inline void future_core::destroy() noexcept {
    if (flags_.load(std::memory_order_relaxed) & f_is_task) return destroy_task_frame(this);
    const plain_future_core* self = static_cast<const plain_future_core*>(this);
    self->ops_->destroy(this);
}

inline bool future_core::cancel(const std::string* message) {
    if (flags_.load(std::memory_order_relaxed) & f_is_task) return cancel_task(this, message);
    return static_cast<const plain_future_core*>(this)->ops_->cancel(this, message);
}

// A done-callback added by the user: scheduled with call_soon when the future
// completes, in registration order with the awaiters. `tag` and `equals`
// implement remove_done_callback's comparison by value.
struct callback_node : done_node, callback_base {
    callback_node(void (*run)(callback_base*), void (*drop)(callback_base*) noexcept,
                  const void* type_tag) noexcept
        : callback_base(run, drop), tag(type_tag) {
        on_done = &schedule_on_done;
    }
    const void* tag;  // identifies the callable's type
    bool (*equals)(const callback_node*, const void* other) = nullptr;  // null: never equal
    future_core* target = nullptr;  // set (with a reference) when scheduled

    static void schedule_on_done(done_node* self, future_core* f) noexcept;
};

template <class Match, class OnUnlinked>
std::size_t future_core::unlink_done_nodes(Match match, OnUnlinked on_unlinked) noexcept {
    std::size_t removed = 0;
    lock_callbacks();
    // seq_cst: with the lock taken first, either the completer's exchange is
    // seen here (the list is gone: nothing to remove) or the completer sees
    // the lock after its exchange and waits for it (see publish()).
    done_node* head = done_list_.load(std::memory_order_seq_cst);
    // Matches at the head: concurrent pushes move the head, so unlink by CAS.
    while (head != nullptr && head != closed() && match(head)) {
        done_node* next = head->next;
        // release on success: a completer taking the list sees `next`;
        // acquire on failure: we go on from the new head.
        if (done_list_.compare_exchange_strong(head, next, std::memory_order_acq_rel,
                                               std::memory_order_acquire)) {
            on_unlinked(head);
            ++removed;
            head = next;
        }
    }
    // Behind the head nothing moves but through us: unlink in place.
    if (head != nullptr && head != closed()) {
        done_node* prev = head;
        for (done_node* cur = head->next; cur != nullptr;) {
            done_node* next = cur->next;
            if (match(cur)) {
                prev->next = next;
                on_unlinked(cur);
                ++removed;
            } else {
                prev = cur;
            }
            cur = next;
        }
    }
    unlock_callbacks();
    return removed;
}

template <class Pred>
std::size_t future_core::remove_done_nodes_if(Pred pred) noexcept {
    return unlink_done_nodes(
        [&](done_node* n) {
            return n->on_done == &callback_node::schedule_on_done &&
                   pred(static_cast<callback_node*>(n));
        },
        [](done_node* n) { static_cast<callback_node*>(n)->release(); });
}

template <class Pred>
done_node* future_core::find_done_node(Pred pred) noexcept {
    done_node* found = nullptr;
    unlink_done_nodes(
        [&](done_node* n) {
            if (found == nullptr && pred(n)) found = n;
            return false;  // looked at, never unlinked
        },
        [](done_node*) {});
    return found;
}

inline bool future_core::remove_done_node(done_node* node) noexcept {
    return unlink_done_nodes([node](done_node* n) { return n == node; }, [](done_node*) {}) != 0;
}

}  // namespace weft::detail
