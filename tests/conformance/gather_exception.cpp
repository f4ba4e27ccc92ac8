// Port of gather_exception.py: without return_exceptions the first child
// exception reaches the gather's awaiter at once; the other children are not
// cancelled and run to completion. (ValueError is std::invalid_argument here.)
#include <stdexcept>

#include "scenario.hpp"

using scenario::py;

scenario::stopwatch* sw;

weft::task<std::string> work(std::string name, double delay, bool fail = false) {
    co_await weft::sleep(delay);
    if (fail) {
        std::printf("t=%s %s raising\n", sw->now().c_str(), name.c_str());
        throw std::invalid_argument(name);
    }
    std::printf("t=%s %s done\n", sw->now().c_str(), name.c_str());
    co_return name;
}

weft::task<void> main_task() {
    scenario::stopwatch clock;
    sw = &clock;
    auto a = weft::create_task(work("A", 0.3));
    try {
        co_await weft::gather(work("B", 0.1, true), a, work("C", 0.2));
    } catch (const std::invalid_argument& e) {
        std::printf("t=%s main caught ValueError %s\n", sw->now().c_str(), e.what());
    }
    co_await weft::sleep(0.3);
    std::printf("t=%s A result %s, cancelled %s\n", sw->now().c_str(), a.result().c_str(),
                py(a.cancelled()));
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
