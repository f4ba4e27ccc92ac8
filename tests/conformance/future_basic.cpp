// Port of future_basic.py: set_result wakes the awaiter and schedules the
// callbacks in order; awaiting a done future does not suspend; a second
// set_result raises invalid_state_error.
#include "scenario.hpp"

using scenario::py;

weft::task<void> waiter(weft::future<int> fut) {
    std::printf("waiter awaiting\n");
    int value = co_await fut;
    std::printf("waiter got %d\n", value);
}

weft::task<void> main_task() {
    auto fut = weft::create_future<int>();
    fut.add_done_callback(
        [](weft::future<int>& f) { std::printf("callback sees %d\n", f.result()); });
    auto t = weft::create_task(waiter(fut));
    co_await weft::sleep(0);
    fut.set_result(10);
    std::printf("set_result done: %s\n", py(fut.done()));
    try {
        fut.set_result(11);
    } catch (const weft::invalid_state_error&) {
        std::printf("second set_result: InvalidStateError\n");
    }
    std::printf("main awaits done future: %d\n", co_await fut);
    co_await t;
    std::printf("main done\n");
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
