// Port of cancel_propagation.py: cancelling a task that awaits another task
// cancels the inner one too; its cleanup runs first.
#include "scenario.hpp"

using scenario::py;

weft::task<void> inner() {
    struct finally {
        ~finally() { std::printf("inner cleanup\n"); }
    } cleanup;
    co_await weft::sleep(1);
}

weft::task<void> outer(weft::task_handle<void> task) {
    try {
        co_await task;
    } catch (const weft::cancelled_error&) {
        std::printf("outer got CancelledError\n");
        throw;
    }
}

weft::task<void> main_task() {
    auto i = weft::create_task(inner());
    auto o = weft::create_task(outer(i));
    co_await weft::sleep(0.1);
    std::printf("cancelling outer\n");
    o.cancel();
    try {
        co_await o;
    } catch (const weft::cancelled_error&) {
        std::printf("main: outer cancelled: %s\n", py(o.cancelled()));
    }
    std::printf("inner cancelled: %s\n", py(i.cancelled()));
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
