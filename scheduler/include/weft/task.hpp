// weft::task<T>: a lazy coroutine, like a Python coroutine object.
//
//     weft::task<int> answer() { co_await weft::sleep(10ms); co_return 42; }
//
// Calling answer() runs nothing. `co_await answer()` runs it inline in the
// awaiting task, handing control over by symmetric transfer (no trip through
// the scheduler), and returns its result or rethrows its exception.
// weft::create_task(answer()) schedules it as a task of its own instead.
//
// A task's coroutine frame comes from the per-thread frame pool, and it holds
// the whole state of the task should it be spawned, so a spawn is a single
// pooled allocation.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include <weft/detail/frame_allocator.hpp>
#include <weft/detail/source_location.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/errors.hpp>

namespace weft {

template <class T = void>
class task;

namespace detail {

// Storage for a result that is constructed later, at most once.
template <class T>
struct result_slot {
    alignas(T) unsigned char bytes[sizeof(T)];
    T& get() noexcept { return *std::launder(reinterpret_cast<T*>(bytes)); }
    template <class... A>
    void emplace(A&&... a) {
        ::new (static_cast<void*>(bytes)) T(std::forward<A>(a)...);
    }
    void destroy() noexcept { get().~T(); }
};
template <class T>
struct result_slot<T&> {
    T* ptr;
    T& get() noexcept { return *ptr; }
    void emplace(T& r) noexcept { ptr = std::addressof(r); }
    void destroy() noexcept {}
};
template <>
struct result_slot<void> {
    void emplace() noexcept {}
    void destroy() noexcept {}
};

// Everything a task promise does that does not depend on T.
class task_promise_base : public task_record {
public:
    task_promise_base(std::uint32_t frame_offset_bits, source_location loc) noexcept
        : task_record(nullptr, 1, f_is_task | frame_offset_bits), where(loc) {}

    static void* operator new(std::size_t size) { return pool_allocate(size); }
    static void operator delete(void* p, std::size_t size) noexcept { pool_deallocate(p, size); }

    std::suspend_always initial_suspend() noexcept { return {}; }

    struct final_awaiter {
        bool await_ready() noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            task_promise_base& p = h.promise();
            if (p.flags(std::memory_order_relaxed) & f_spawned) {
                p.complete_root();  // may destroy this frame: touch nothing after
                return std::noop_coroutine();
            }
            // Resumed by hand rather than awaited: nothing to go back to.
            if (!p.link) return std::noop_coroutine();
            return transfer_to(p.link);
        }
        void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }

    void unhandled_exception() noexcept;

    // create_task: this coroutine becomes the root of a task on `loop`, with
    // two references (the running one and the returned handle's).
    void start_as_task(event_loop* loop, std::coroutine_handle<> self) noexcept {
        loop_ = loop;
        link = self;
        // Plain stores, no RMW: no other thread can see the task before the
        // queue push publishes it (the caller holds the only handle).
        refs_.store(2, std::memory_order_relaxed);
        flags_.store(static_cast<std::uint16_t>(flags_.load(std::memory_order_relaxed) | f_spawned),
                     std::memory_order_relaxed);
    }

    // Inline use: whether the result was already taken by an awaiter.
    bool consumed = false;
    // For task dumps (task_dump.cpp), which walk a task's chain of suspended
    // coroutines: `magic` tells this promise from other coroutine types
    // (it sits in padding after `consumed`), `where` is the coroutine
    // function (one pointer, filled by the compiler at the call; three words
    // where std::source_location is missing: see detail/source_location.hpp).
    static constexpr std::uint32_t frame_magic = 0x7466'6577;  // "weft"
    std::uint32_t magic = frame_magic;
    source_location where;
};

// The flags that say how far into its frame a promise aligned to `Align`
// sits: the frame starts with the resume and destroy functions' addresses,
// and the promise follows at its alignment (GCC's and Clang's layout, which
// coroutine_handle::from_promise computes too; get_return_object checks it).
template <std::size_t Align>
constexpr std::uint32_t frame_offset_bits() {
    constexpr std::size_t head = 2 * sizeof(void*);
    std::uint32_t shift = 0;
    while ((head << shift) < Align)
        ++shift;
    return shift << f_frame_offset_shift;
}

template <class T>
class task_promise final : public task_promise_base {
public:
    // The default argument is evaluated where the compiler constructs the
    // promise, in the coroutine: it names the coroutine function.
    explicit task_promise(source_location loc = source_location::current()) noexcept
        : task_promise_base(frame_offset_bits<alignof(task_promise)>(), loc) {
        static_assert(alignof(task_promise) <= 16 * sizeof(void*),
                      "weft::task<T>: T's alignment is too large for a task's result; return "
                      "it boxed (std::unique_ptr<T>)");
    }
    ~task_promise() {
        if (has_value_) slot_.destroy();
    }

    task<T> get_return_object() noexcept;

    template <class U = T>
    void return_value(U&& v) requires(!std::is_void_v<T>) {
        slot_.emplace(std::forward<U>(v));
        has_value_ = true;  // published with the outcome by complete_root's release
    }

    T& value() noexcept requires(!std::is_void_v<T>) { return slot_.get(); }

private:
    result_slot<T> slot_;
    bool has_value_ = false;
};

// `co_return;` for task<void>.
template <>
class task_promise<void> final : public task_promise_base {
public:
    explicit task_promise(source_location loc = source_location::current()) noexcept
        : task_promise_base(frame_offset_bits<alignof(task_promise)>(), loc) {}
    task<void> get_return_object() noexcept;
    void return_void() noexcept {}
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using value_type = T;

    task() noexcept = default;
    explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    task(task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            reset();
            h_ = std::exchange(other.h_, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { reset(); }

    // False for a default-constructed or moved-from task.
    bool valid() const noexcept { return static_cast<bool>(h_); }
    explicit operator bool() const noexcept { return valid(); }

    // Gives up ownership of the coroutine (create_task uses this).
    std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

    struct awaiter {
        std::coroutine_handle<promise_type> h;

        bool await_ready() const noexcept { return !h || h.done(); }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
            h.promise().link = awaiting;
            return detail::transfer_to(h);
        }
        T await_resume() {
            if (!h) {
                throw invalid_state_error(
                    "weft::task: awaiting an empty task (default-constructed or moved from)");
            }
            promise_type& p = h.promise();
            if (p.consumed) throw invalid_state_error("cannot reuse already awaited coroutine");
            p.consumed = true;
            if (WEFT_UNLIKELY(p.flags(std::memory_order_relaxed) & detail::f_threw))
                std::rethrow_exception(p.exception_unchecked());
            if constexpr (std::is_void_v<T>) {
                return;
            } else if constexpr (std::is_reference_v<T>) {
                return p.value();
            } else {
                return std::move(p.value());
            }
        }
    };

    // Runs the coroutine inline and returns its result. A task can be awaited
    // once: a second await raises invalid_state_error, as Python does for a
    // reused coroutine.
    awaiter operator co_await() && noexcept { return awaiter{h_}; }
    awaiter operator co_await() & noexcept { return awaiter{h_}; }

private:
    void reset() noexcept {
        if (h_) std::exchange(h_, {}).destroy();
    }
    std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    auto h = std::coroutine_handle<task_promise<T>>::from_promise(*this);
    WEFT_ASSERT(h.address() == frame_address(),
                "a task's frame is found from its promise (frame_offset_bits)");
    return task<T>{h};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    auto h = std::coroutine_handle<task_promise<void>>::from_promise(*this);
    WEFT_ASSERT(h.address() == frame_address(),
                "a task's frame is found from its promise (frame_offset_bits)");
    return task<void>{h};
}
}  // namespace detail

}  // namespace weft
