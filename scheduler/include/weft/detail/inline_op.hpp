// The slow path of an awaiter, as a coroutine that runs inline in the awaiting
// task: what a single await_suspend cannot do (wait, wake up, re-check, wait
// again, as asyncio's `while self.empty(): await getter` loops do) written as
// a loop of co_awaits.
//
//     bool await_ready()  { ...fast path... }
//     std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
//         op_ = slow_path(...);       // lazy: nothing runs yet
//         return op_.start(h);        // runs it now, by symmetric transfer
//     }
//     T await_resume() { op_.finish(); ... }   // rethrows what it threw
//
// It is a task<void> stripped to what an inline slow path needs: the frame
// comes from the frame pool, the result goes wherever the awaiter passed a
// reference to, and there is no task state (no reference count, no flags to
// update atomically), so starting and finishing one costs a pooled allocation
// and two transfers.
#pragma once

#include <coroutine>
#include <exception>
#include <utility>

#include <weft/detail/frame_allocator.hpp>
#include <weft/detail/thread_context.hpp>

namespace weft::detail {

class inline_op {
public:
    struct promise_type {
        std::coroutine_handle<> awaiting;
        std::exception_ptr error;

        static void* operator new(std::size_t size) { return pool_allocate(size); }
        static void operator delete(void* p, std::size_t size) noexcept {
            pool_deallocate(p, size);
        }

        inline_op get_return_object() noexcept {
            return inline_op(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        struct final_awaiter {
            bool await_ready() noexcept { return false; }
            std::coroutine_handle<> await_suspend(
                std::coroutine_handle<promise_type> self) noexcept {
                return transfer_to(self.promise().awaiting);  // the frame is freed by finish()
            }
            void await_resume() noexcept {}
        };
        final_awaiter final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { error = std::current_exception(); }
    };

    inline_op() noexcept = default;
    inline_op(inline_op&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    inline_op& operator=(inline_op&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    ~inline_op() { reset(); }

    // From await_suspend: runs the operation in the current task; once it is
    // done it resumes `awaiting`.
    std::coroutine_handle<> start(std::coroutine_handle<> awaiting) noexcept {
        h_.promise().awaiting = awaiting;
        return transfer_to(h_);
    }
    // From await_resume: frees the frame and rethrows what the operation
    // threw, if anything.
    void finish() {
        std::exception_ptr e = std::move(h_.promise().error);
        reset();
        if (e) std::rethrow_exception(std::move(e));
    }

private:
    explicit inline_op(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    // A frame destroyed before it finished (its task torn down while it
    // waited) destroys its locals too, which unregister their waits.
    void reset() noexcept {
        if (h_) std::exchange(h_, {}).destroy();
    }

    std::coroutine_handle<promise_type> h_;
};

}  // namespace weft::detail
