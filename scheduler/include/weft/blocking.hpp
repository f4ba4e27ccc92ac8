// blocking(): run a blocking call in place, without stalling the other tasks
// (Go's syscall entry, Tokio's block_in_place).
//
//     std::string text = co_await weft::blocking([&] { return read_whole_file(path); });
//
// In Go mode the worker's event loop (its queues, timers and sockets) is
// handed to a spare thread first; this thread then runs `fn` outside any
// loop, and the task continues on whichever worker picks it up. Nothing else
// waits for `fn`.
//
// In single-thread mode there is no other thread: `fn` runs inline and every
// task waits for it, as any blocking call does under asyncio; debug mode
// says so. For CPU-bound work, or many blocking calls at once, prefer
// run_in_executor, which bounds the threads involved.
//
// `fn` runs outside the loop: inside it there is no current loop or task.
// Its exception is rethrown at the co_await. A cancel that arrives while
// `fn` runs takes effect at the task's next await: `fn`'s result is not lost.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>

namespace weft {

namespace detail {

// Go mode: gives the loop that this thread drives to a spare thread. False
// in single-thread mode, outside a worker, or at max_blocking_threads.
bool hand_off_current_loop();
// Debug mode, single-thread: reports that `what` blocks the loop.
void warn_blocking_inline(const char* what) noexcept;

template <class F>
class blocking_awaiter {
public:
    using result_type = std::invoke_result_t<F&>;

    explicit blocking_awaiter(F fn) : fn_(std::move(fn)) {}

    bool await_ready() const noexcept { return false; }

    bool await_suspend(std::coroutine_handle<> h) {
        task_record& t = current_task_for_await("weft::blocking");
        if (!hand_off_current_loop()) {
            warn_blocking_inline("weft::blocking");
            call();
            return false;  // continue at once, on this thread
        }
        // This thread no longer drives a loop: run `fn` outside any, then
        // let a worker resume the task. After wake() nothing may touch
        // `this`: the task can resume elsewhere at once.
        t.link = h;
        thread_context& ctx = tls_ctx;
        event_loop* loop = std::exchange(ctx.loop, nullptr);
        task_record* self = std::exchange(ctx.current_task, nullptr);
        call();
        ctx.loop = loop;
        ctx.current_task = self;
        t.wake();  // this thread lost the loop: the wake goes to the global queue
        return true;
    }

    result_type await_resume() {
        if (error_) std::rethrow_exception(error_);
        if constexpr (!std::is_void_v<result_type>) return std::move(*value_);
    }

private:
    void call() noexcept {
        try {
            if constexpr (std::is_void_v<result_type>) {
                fn_();
            } else {
                value_.emplace(fn_());
            }
        } catch (...) {
            error_ = std::current_exception();
        }
    }

    using stored = std::conditional_t<
        std::is_void_v<result_type>, char,
        std::conditional_t<std::is_reference_v<result_type>,
                           std::reference_wrapper<std::remove_reference_t<result_type>>,
                           result_type>>;
    F fn_;
    std::optional<stored> value_;
    std::exception_ptr error_;
};

}  // namespace detail

// Runs `fn()` on this thread, handing the event loop to another thread first
// in Go mode; see the top of this file.
template <class F>
[[nodiscard]] detail::blocking_awaiter<std::decay_t<F>> blocking(F&& fn) {
    return detail::blocking_awaiter<std::decay_t<F>>(std::forward<F>(fn));
}

}  // namespace weft
