// The storage behind weft::context_var (contextvars): an immutable,
// reference-counted map from a variable's id to its value.
//
// A context is a slot holding a pointer to such a map. create_task copies
// the creator's pointer into the new task (one reference more, or nothing at
// all for the empty context, a null pointer), and context_var::set builds a
// new map and stores it in the current slot: a map is never changed once
// built, so tasks on other workers can read the maps they share without
// locks, and a task that never touches a context_var pays for one null
// pointer copied at its creation.
//
// The map is a sorted array copied whole on each set: programs have a
// handful of variables, for which a copy is cheaper than a tree.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace weft::detail {

struct context_entry {
    std::uint64_t id;                   // the variable's (unique for the process)
    std::shared_ptr<const void> value;  // a T, owned; shared by the maps that hold it
};

struct context_map {
    std::atomic<std::uint32_t> refs{1};
    std::vector<context_entry> entries;  // sorted by id

    // The entry for `id`, or null.
    const context_entry* find(std::uint64_t id) const noexcept {
        for (const context_entry& e : entries) {
            if (e.id == id) return &e;
            if (e.id > id) break;
        }
        return nullptr;
    }
};

// An owning pointer to a context_map; null is the empty context.
class context_ref {
public:
    context_ref() noexcept = default;
    explicit context_ref(context_map* adopted) noexcept : m_(adopted) {}
    context_ref(const context_ref& o) noexcept : m_(o.m_) {
        // Relaxed: the map was published to this thread with the pointer.
        if (m_) m_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    context_ref(context_ref&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    context_ref& operator=(context_ref o) noexcept {
        std::swap(m_, o.m_);
        return *this;
    }
    // Inline, the empty context costs one test: the release is out of line.
    ~context_ref() {
        if (m_) drop(m_);
    }

    void reset() noexcept {
        if (m_) drop(std::exchange(m_, nullptr));
    }
    // For a new task's context, known to be empty: a copy of `o` without the
    // swap and release of an assignment (create_task's whole cost when the
    // creator has no variables set is this null copy).
    void share_into_empty(const context_ref& o) noexcept {
        m_ = o.m_;
        if (m_) m_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    const context_map* get() const noexcept { return m_; }
    explicit operator bool() const noexcept { return m_ != nullptr; }

private:
    // Drops a reference; the last one deletes the map.
    static void drop(context_map* m) noexcept;
    context_map* m_ = nullptr;
};

// A new map: `from` with `id` bound to `value` (null `value`: with `id`
// removed).
context_ref context_with(const context_map* from, std::uint64_t id,
                         std::shared_ptr<const void> value);

// ---- which context is current.
// In a task's step: the task's (task_record::context); outside any task:
// the thread's own. context::run and callbacks scheduled with call_soon
// (which, as in asyncio, run in the context current when they were
// scheduled) install an override for the length of a call. An override
// belongs to the task whose step installed it: a step of another task run
// nested inside the call sees its own context, not the override.
struct context_override {
    context_ref* slot;
    const void* task;  // tls_ctx.current_task when installed
    context_override* prev;
};
extern __thread context_override* tls_context_override;

// The thread's context outside tasks.
context_ref& thread_context_slot() noexcept;
// The current slot (out of line: for callbacks and code outside tasks).
context_ref& current_context_slot_slow() noexcept;
// create_task: gives a new task (its context still empty) a copy of the
// current context. Out of line so that create_task's inlined body stays
// small: its cost for a creator without variables is a call and a null copy.
void inherit_context(context_ref& new_task_context) noexcept;

// Runs call_soon callbacks in the context current when they were scheduled:
// in a slot of their own, so that what they set is dropped afterwards.
template <class F>
struct context_bound {
    context_ref ctx;
    F fn;
    void operator()();
};

// Installs and removes an override.
class context_override_scope {
public:
    explicit context_override_scope(context_ref* slot) noexcept;
    ~context_override_scope();
    context_override_scope(const context_override_scope&) = delete;
    context_override_scope& operator=(const context_override_scope&) = delete;

private:
    context_override node_;
};

template <class F>
void context_bound<F>::operator()() {
    context_override_scope scope(&ctx);
    fn();
}

template <class F>
context_bound<std::decay_t<F>> bind_context(F&& f) {
    return context_bound<std::decay_t<F>>{current_context_slot_slow(), std::forward<F>(f)};
}

}  // namespace weft::detail
