// Port of shield_basic.py: cancelling a task that awaits shield(inner)
// cancels only that await; inner keeps running and can still be awaited.
#include "scenario.hpp"

using scenario::py;

scenario::stopwatch* sw;

weft::task<int> inner() {
    co_await weft::sleep(0.2);
    std::printf("t=%s inner finished\n", sw->now().c_str());
    co_return 5;
}

weft::task<int> outer(weft::task_handle<int> task) {
    try {
        co_return co_await weft::shield(task);
    } catch (const weft::cancelled_error&) {
        std::printf("t=%s outer got CancelledError\n", sw->now().c_str());
        throw;
    }
}

weft::task<void> main_task() {
    scenario::stopwatch clock;
    sw = &clock;
    auto i = weft::create_task(inner());
    auto o = weft::create_task(outer(i));
    co_await weft::sleep(0.1);
    o.cancel();
    co_await weft::sleep(0);
    std::printf("outer cancelled: %s inner done: %s\n", py(o.cancelled()), py(i.done()));
    int result = co_await i;
    std::printf("t=%s main got %d\n", sw->now().c_str(), result);
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
