// What this thread is running right now: its event loop, the task whose step
// is executing, and the bookkeeping that keeps chains of inline awaits from
// growing the native stack (see resume_from_driver).
#pragma once

#include <coroutine>

#include <weft/detail/config.hpp>

namespace weft {
class event_loop;
}

namespace weft::detail {

class task_record;

struct thread_context {
    event_loop* loop;           // the loop driven by this thread, if any
    task_record* current_task;  // the task whose step is running, if any
    // Inline awaits hand control over by symmetric transfer, which compilers
    // turn into tail calls only when optimising and not sanitising. When the
    // native stack has grown below `stack_limit`, a transfer instead parks the
    // next coroutine in `bounce` and returns to the driver, which resumes it.
    char* stack_limit;
    void* bounce;
    // Go mode's cooperative budget for the running step: awaits of things
    // that are already complete spend it, and yield once it is gone.
    int budget;
    // Go mode: the machine (the record of this OS thread in the runtime),
    // and how deep this thread is in owner-only operations on `loop` (read
    // by the monitor when it retakes a blocked loop; see owner_scope).
    void* machine;
    int owner_ops;
};

extern __thread thread_context tls_ctx;

// Spends one unit of the cooperative budget; false when it is used up.
inline bool consume_budget() noexcept {
    return --tls_ctx.budget > 0;
}

// How far a chain of transfers may grow the stack before bouncing. Small
// against an 8 MiB main-thread stack and the 8 MiB stacks weft gives workers.
inline constexpr long bounce_stack_budget = 256 * 1024;

// The handle to return from await_suspend to transfer control to `next`.
WEFT_NOINLINE std::coroutine_handle<> transfer_to(std::coroutine_handle<> next) noexcept;

// As resume_from_driver, for a step run inside another task's step (a join
// run in place): within the outer driver's stack allowance, so that nested
// steps cannot each take a fresh one, and bouncing back here.
inline void resume_nested(std::coroutine_handle<> h) {
    thread_context& ctx = tls_ctx;
    h.resume();
    while (ctx.bounce != nullptr) {
        auto next = std::coroutine_handle<>::from_address(ctx.bounce);
        ctx.bounce = nullptr;
        next.resume();
    }
}

// Resumes `h` and every coroutine that bounces back, until the chain suspends.
// Every resumption of a weft coroutine by the runtime goes through here.
inline void resume_from_driver(std::coroutine_handle<> h) {
    thread_context& ctx = tls_ctx;
    char* saved = ctx.stack_limit;
    ctx.stack_limit = static_cast<char*>(__builtin_frame_address(0)) - bounce_stack_budget;
    resume_nested(h);
    ctx.stack_limit = saved;
}

}  // namespace weft::detail
