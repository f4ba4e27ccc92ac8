// model::atomic<T>: std::atomic<T>'s interface over a location whose every
// access is a scheduling point, and whose loads may return any store the
// C++ memory model allows them to (within the checker's bounds).
//
// What is modelled (see execution.cpp for fences):
//   - Modification order is the order in which stores run. Each location
//     keeps its last `history` stores, each with the view (view.hpp) that an
//     acquire load of it takes on.
//   - Coherence: a load reads a store no older than its thread's view of
//     the location, which holds what the thread has read or written there
//     and every store that happens before it. Among those it may read any
//     kept store: the newest is option 0, the older ones are stale reads,
//     a choice the checker explores.
//   - release stores carry their thread's view; relaxed ones carry the view
//     of the thread's last release fence. acquire loads join the carried
//     view; relaxed loads keep it for a later acquire fence.
//   - Read-modify-writes read the newest store and continue its release
//     sequence (their view includes the one they read). A failed
//     compare_exchange also reads the newest store, as hardware does.
//     compare_exchange_weak does not fail spuriously.
//   - seq_cst: S is the order in which seq_cst operations and fences run.
//     A seq_cst store or load raises the seq_cst view of its location; a
//     seq_cst load reads no older than it; a seq_cst fence joins it with its
//     thread's view both ways (execution.cpp). These are the C++20 rules of
//     [atomics.order] that constrain what a load may read.
// What is not: loads never read stores that have not run yet (no load
// buffering, no out-of-thin-air values); modification order never differs
// from execution order; seq_cst fences also make later fences see what
// their threads knew, which is a little stronger than C++.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "execution.hpp"

namespace weft::model {

namespace detail {

const char* order_name(std::memory_order o);

template <class T>
std::string show(const T& v) {
    if constexpr (std::is_pointer_v<T>) {
        if (v == nullptr) return "null";
        char buf[32];
        std::snprintf(buf, sizeof buf, "%p", static_cast<const void*>(v));
        return buf;
    } else if constexpr (std::is_same_v<T, bool>) {
        return v ? "true" : "false";
    } else if constexpr (std::is_enum_v<T>) {
        return std::to_string(static_cast<std::underlying_type_t<T>>(v));
    } else {
        return std::to_string(v);
    }
}

}  // namespace detail

template <class T>
class atomic {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    atomic() : atomic(T{}) {}
    atomic(T initial) : location_(execution::current().new_location()) {  // NOLINT: as std::atomic
        history_.push_back(record{initial, 0, view{}});
    }
    atomic(const atomic&) = delete;
    atomic& operator=(const atomic&) = delete;

    T load(std::memory_order o = std::memory_order_seq_cst,
           const where& w = where::current()) const {
        execution& e = execution::current();
        e.schedule();
        thread_state& me = e.self();
        std::uint32_t floor = me.now[location_];
        if (o == std::memory_order_seq_cst && e.sc()[location_] > floor) floor = e.sc()[location_];
        std::uint32_t readable = 0;
        while (readable < history_.size() &&
               history_[history_.size() - 1 - readable].position >= floor) {
            ++readable;
        }
        if (readable == 0) readable = 1;  // the floor fell out of the history: the oldest kept
        std::uint32_t k = e.choose_store(readable);
        const record& r = history_[history_.size() - 1 - k];
        me.now.raise(location_, r.position);
        take(me, r, o);
        if (o == std::memory_order_seq_cst) e.sc().raise(location_, r.position);
        if (e.tracing()) {
            e.trace(name() + ".load(" + detail::order_name(o) + ") -> " + detail::show(r.value) +
                        (k ? "  [stale: " + std::to_string(k) + " newer]" : ""),
                    w);
        }
        return r.value;
    }

    void store(T v, std::memory_order o = std::memory_order_seq_cst,
               const where& w = where::current()) {
        execution& e = execution::current();
        e.schedule();
        append(e, v, o, nullptr);
        if (e.tracing())
            e.trace(name() + ".store(" + detail::show(v) + ", " + detail::order_name(o) + ")", w);
    }

    T exchange(T v, std::memory_order o = std::memory_order_seq_cst,
               const where& w = where::current()) {
        return rmw([v](T) { return v; }, o, "exchange", w);
    }

    bool compare_exchange_strong(T& expected, T desired, std::memory_order success,
                                 std::memory_order failure, const where& w = where::current()) {
        execution& e = execution::current();
        e.schedule();
        thread_state& me = e.self();
        const record last = history_.back();
        bool ok = last.value == expected;
        std::string was = e.tracing() ? detail::show(expected) : std::string();
        if (ok) {
            me.now.raise(location_, last.position);
            take(me, last, success);
            append(e, desired, success, &last);
        } else {
            me.now.raise(location_, last.position);
            take(me, last, failure);
            if (failure == std::memory_order_seq_cst) e.sc().raise(location_, last.position);
            expected = last.value;
        }
        if (e.tracing()) {
            e.trace(name() + ".compare_exchange(" + was + " -> " + detail::show(desired) + ", " +
                        detail::order_name(ok ? success : failure) + ") " +
                        (ok ? "succeeded" : "failed, read " + detail::show(last.value)),
                    w);
        }
        return ok;
    }
    bool compare_exchange_strong(T& expected, T desired,
                                 std::memory_order o = std::memory_order_seq_cst,
                                 const where& w = where::current()) {
        return compare_exchange_strong(expected, desired, o, failure_order(o), w);
    }
    bool compare_exchange_weak(T& expected, T desired, std::memory_order success,
                               std::memory_order failure, const where& w = where::current()) {
        return compare_exchange_strong(expected, desired, success, failure, w);
    }
    bool compare_exchange_weak(T& expected, T desired,
                               std::memory_order o = std::memory_order_seq_cst,
                               const where& w = where::current()) {
        return compare_exchange_strong(expected, desired, o, failure_order(o), w);
    }

    T fetch_add(T arg, std::memory_order o = std::memory_order_seq_cst,
                const where& w = where::current()) requires std::is_integral_v<T> {
        return rmw([arg](T v) { return static_cast<T>(v + arg); }, o, "fetch_add", w);
    }
    T fetch_sub(T arg, std::memory_order o = std::memory_order_seq_cst,
                const where& w = where::current()) requires std::is_integral_v<T> {
        return rmw([arg](T v) { return static_cast<T>(v - arg); }, o, "fetch_sub", w);
    }
    T fetch_or(T arg, std::memory_order o = std::memory_order_seq_cst,
               const where& w = where::current()) requires std::is_integral_v<T> {
        return rmw([arg](T v) { return static_cast<T>(v | arg); }, o, "fetch_or", w);
    }
    T fetch_and(T arg, std::memory_order o = std::memory_order_seq_cst,
                const where& w = where::current()) requires std::is_integral_v<T> {
        return rmw([arg](T v) { return static_cast<T>(v & arg); }, o, "fetch_and", w);
    }

    // The location's number in traces (a<N>, by order of construction).
    std::string name() const { return "a" + std::to_string(location_); }

private:
    struct record {
        T value;
        std::uint32_t position;  // in the location's modification order
        view carried;            // what an acquire load of it learns
    };

    static std::memory_order failure_order(std::memory_order o) {
        if (o == std::memory_order_acq_rel) return std::memory_order_acquire;
        if (o == std::memory_order_release) return std::memory_order_relaxed;
        return o;
    }

    // Reading `r` with order `o`: acquire now, or keep for an acquire fence.
    static void take(thread_state& me, const record& r, std::memory_order o) {
        if (detail::acquires(o)) {
            me.now.join(r.carried);
        } else {
            me.acquired.join(r.carried);
        }
    }

    template <class F>
    T rmw(F f, std::memory_order o, const char* what, const where& w) {
        execution& e = execution::current();
        e.schedule();
        thread_state& me = e.self();
        const record last = history_.back();
        me.now.raise(location_, last.position);
        take(me, last, o);
        T next = f(last.value);
        append(e, next, o, &last);
        if (e.tracing()) {
            e.trace(name() + "." + what + "(" + detail::order_name(o) + ") " +
                        detail::show(last.value) + " -> " + detail::show(next),
                    w);
        }
        return last.value;
    }

    // A new store at the end of the modification order; `read` is the store
    // a read-modify-write read, whose release sequence it continues.
    void append(execution& e, T v, std::memory_order o, const record* read) {
        thread_state& me = e.self();
        record r{v, history_.back().position + 1, detail::releases(o) ? me.now : me.released};
        if (read != nullptr) r.carried.join(read->carried);
        r.carried.raise(location_, r.position);
        me.now.raise(location_, r.position);
        if (o == std::memory_order_seq_cst) e.sc().raise(location_, r.position);
        history_.push_back(std::move(r));
        if (history_.size() > e.history()) history_.erase(history_.begin());
    }

    const std::uint32_t location_;
    std::vector<record> history_;  // oldest first
};

// std::atomic_thread_fence.
inline void fence(std::memory_order o, const where& w = where::current()) {
    execution& e = execution::current();
    e.schedule();
    e.self().fence(o, e.sc());
    if (e.tracing()) e.trace(std::string("fence(") + detail::order_name(o) + ")", w);
}

}  // namespace weft::model
