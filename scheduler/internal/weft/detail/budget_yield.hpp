// The cooperative budget's yield for operations that have already taken
// effect (Go mode; single-thread mode's budget never runs out).
//
//     std::size_t n = ::recv(...);      // bytes are out of the socket now
//     co_await detail::budget_yield{};  // maybe one turn at the back
//     co_return n;
//
// Once the step's budget is spent the task goes to the back of its loop's
// ready FIFO for one turn, so a task whose awaits never have to wait cannot
// hold its worker. Unlike yield_now() this is not a cancellation point: what
// the operation took (bytes read, a connection accepted, an item) would be
// lost with the exception. A cancel arriving meanwhile stays pending and the
// task's next await raises it, as asyncio's would, whose non-blocking
// operations return without suspending at all.
#pragma once

#include <coroutine>

#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>

namespace weft::detail {

struct budget_yield {
    bool await_ready() const noexcept { return consume_budget(); }
    void await_suspend(std::coroutine_handle<> h) const {
        task_record& t = current_task_for_await("weft's cooperative yield");
        t.link = h;
        // No hook: a cancel sets must_cancel. Nothing may touch the task after
        // the push: in Go mode another worker can resume it at once.
        event_loop::current()->push_ready(event_loop::tag_task(&t));
    }
    void await_resume() const noexcept {}
};

}  // namespace weft::detail
