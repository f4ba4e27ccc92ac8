// Context variables: asyncio's contextvars.
//
//     inline weft::context_var<std::string> request_id("request_id");
//
//     weft::task<void> handle(request r) {
//         auto tok = request_id.set(r.id);   // seen by every task started below
//         co_await weft::create_task(log_and_store(r));
//         request_id.reset(tok);
//     }
//     weft::task<void> log_and_store(request r) {
//         log(request_id.get(), ...);           // the handler's id
//     }
//
// Every task has a context. create_task gives the new task a copy of the
// context current at the call (asyncio: contextvars.copy_context()), so what
// the creator set is seen by the task and what the task sets is not seen by
// its creator. The context travels with the task, whichever worker runs it.
// Outside tasks a thread has a context of its own; callbacks scheduled with
// call_soon, call_soon_threadsafe, call_later and call_at run in a copy of the
// context current when they were scheduled, as in asyncio.
//
// A copy costs nothing: a context is a pointer to an immutable map, shared
// until a set() builds a new one (see detail/context_map.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <weft/detail/context_current.hpp>
#include <weft/detail/context_map.hpp>
#include <weft/errors.hpp>

namespace weft {

// asyncio's LookupError from ContextVar.get(): the variable has no value in
// the current context and no default.
class lookup_error : public std::out_of_range {
public:
    using std::out_of_range::out_of_range;
};

template <class T>
class context_var;

namespace detail {
std::uint64_t new_context_var_id() noexcept;
}

// contextvars.Context: a set of variable bindings that code can run in. A
// context is a handle: copies of it share one context, as Python's
// references do; copy() makes an independent one.
class context {
public:
    // A new, empty context.
    context() : s_(std::make_shared<state>()) {}

    // Calls f(args...) with this context current: context_var::get sees its
    // values and set changes them in this context (kept after run returns).
    // A context runs one call at a time, as in Python: entering it while it
    // is entered (from run inside run, or from another thread) throws
    // invalid_state_error.
    template <class F, class... A>
    decltype(auto) run(F&& f, A&&... args) {
        if (s_->entered.exchange(true, std::memory_order_acquire)) {
            // acquire: pairs with the release of the run that left it, whose
            // changes to the map this run then sees.
            throw invalid_state_error("weft::context::run: this context is already entered");
        }
        leave_on_exit leave{s_.get()};
        detail::context_override_scope scope(&s_->map);
        return std::invoke(std::forward<F>(f), std::forward<A>(args)...);
    }

    // An independent context with the same bindings (Context.copy()).
    context copy() const {
        context c;
        c.s_->map = s_->map;
        return c;
    }

    // The variable's value in this context, if it has one (ctx.get(var)).
    template <class T>
    std::optional<T> value_of(const context_var<T>& var) const;
    // How many variables have a value here (len(ctx)).
    std::size_t size() const noexcept {
        const detail::context_map* m = s_->map.get();
        return m ? m->entries.size() : 0;
    }

private:
    friend context copy_context();
    struct state {
        detail::context_ref map;
        std::atomic<bool> entered{false};
    };
    struct leave_on_exit {
        state* s;
        // release: pairs with the next run's acquire.
        ~leave_on_exit() { s->entered.store(false, std::memory_order_release); }
    };
    std::shared_ptr<state> s_;
};

// contextvars.copy_context(): a copy of the current context (the running
// task's, or outside tasks the thread's).
inline context copy_context() {
    context c;
    c.s_->map = detail::current_context_slot();
    return c;
}

// contextvars.ContextVar. Declare one per variable, for as long as it is
// used (typically at namespace scope); it is neither copied nor moved, since
// its identity names the variable. get() returns a copy of the value.
template <class T>
class context_var {
    static_assert(std::is_copy_constructible_v<T>,
                  "weft::context_var<T>: T must be copyable (get() returns a copy; share "
                  "heavy or move-only values through a std::shared_ptr)");

public:
    explicit context_var(std::string name) : name_(std::move(name)) {}
    context_var(std::string name, T default_value)
        : name_(std::move(name)), default_(std::move(default_value)) {}
    context_var(const context_var&) = delete;
    context_var& operator=(const context_var&) = delete;

    const std::string& name() const noexcept { return name_; }

    // What set() returns; reset() takes it back. A token is used once.
    class token {
    public:
        token(token&& o) noexcept
            : var_(o.var_),
              slot_(o.slot_),
              old_(std::move(o.old_)),
              used_(std::exchange(o.used_, true)) {}
        token& operator=(token&& o) noexcept {
            var_ = o.var_;
            slot_ = o.slot_;
            old_ = std::move(o.old_);
            used_ = std::exchange(o.used_, true);
            return *this;
        }
        token(const token&) = delete;
        token& operator=(const token&) = delete;

        const context_var& var() const noexcept { return *var_; }
        // The value before the set, or null if there was none (Token.MISSING).
        const T* old_value() const noexcept { return static_cast<const T*>(old_.get()); }

    private:
        friend class context_var;
        token(const context_var* v, const detail::context_ref* slot,
              std::shared_ptr<const void> old) noexcept
            : var_(v), slot_(slot), old_(std::move(old)) {}
        const context_var* var_;
        const detail::context_ref* slot_;  // identifies the context it was made in
        std::shared_ptr<const void> old_;
        bool used_ = false;
    };

    // The value in the current context, else the variable's default; throws
    // lookup_error when there is neither.
    T get() const {
        if (const T* v = find()) return *v;
        if (default_) return *default_;
        throw lookup_error("weft::context_var '" + name_ +
                           "': no value in the current context and no default");
    }
    // The value in the current context, else `fallback` (ContextVar.get(default)).
    T get(T fallback) const {
        if (const T* v = find()) return *v;
        return fallback;
    }

    // Binds the variable in the current context.
    token set(T value) {
        detail::context_ref& slot = detail::current_context_slot();
        std::shared_ptr<const void> old;
        if (const detail::context_map* m = slot.get()) {
            if (const detail::context_entry* e = m->find(id_)) old = e->value;
        }
        slot = detail::context_with(slot.get(), id_, std::make_shared<const T>(std::move(value)));
        return token(this, &slot, std::move(old));
    }

    // Restores what the variable was before the set() that made `t`. As in
    // Python: a token is good once (invalid_state_error after), and only for
    // its variable in the context it was made in (std::invalid_argument).
    void reset(token& t) {
        if (t.used_) {
            throw invalid_state_error("weft::context_var '" + name_ +
                                      "': reset with a token that has already been used");
        }
        if (t.var_ != this) {
            throw std::invalid_argument("weft::context_var '" + name_ +
                                        "': reset with a token made by another context_var ('" +
                                        t.var_->name_ + "')");
        }
        detail::context_ref& slot = detail::current_context_slot();
        if (&slot != t.slot_) {
            throw std::invalid_argument("weft::context_var '" + name_ +
                                        "': reset with a token made in a different context");
        }
        slot = detail::context_with(slot.get(), id_, t.old_);
        t.used_ = true;
    }

private:
    friend class context;
    const T* find() const noexcept { return find_in(detail::current_context_slot().get()); }
    const T* find_in(const detail::context_map* m) const noexcept {
        if (m == nullptr) return nullptr;
        const detail::context_entry* e = m->find(id_);
        return e ? static_cast<const T*>(e->value.get()) : nullptr;
    }

    std::string name_;
    std::optional<T> default_;
    std::uint64_t id_ = detail::new_context_var_id();
};

template <class T>
std::optional<T> context::value_of(const context_var<T>& var) const {
    if (const T* v = var.find_in(s_->map.get())) return *v;
    return std::nullopt;
}

}  // namespace weft
