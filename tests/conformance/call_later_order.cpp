// Port of call_later_order.py: timers fire in deadline order, equal delays in
// scheduling order, and a cancelled timer never fires.
#include "scenario.hpp"

using scenario::py;

weft::task<void> main_task() {
    weft::event_loop& loop = weft::get_running_loop();
    scenario::stopwatch sw;
    auto callback = [&sw](std::string name) {
        return [&sw, name] { std::printf("t=%s %s\n", sw.now().c_str(), name.c_str()); };
    };
    loop.call_later(0.3, callback("A"));
    loop.call_later(0.1, callback("B"));
    loop.call_later(0.3, callback("C"));
    weft::timer_handle handle = loop.call_later(0.2, callback("D"));
    loop.call_at(sw.start() + 0.2, callback("E"));
    loop.call_later(0.1, callback("F"));
    handle.cancel();
    std::printf("D cancelled: %s\n", py(handle.cancelled()));
    co_await weft::sleep(0.4);
    std::printf("main done\n");
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
