// Port of gather_order.py: gather starts its tasks in argument order and
// returns results in argument order, not completion order.
#include "scenario.hpp"

scenario::stopwatch* sw;

weft::task<int> work(std::string name, double delay, int value) {
    std::printf("%s start\n", name.c_str());
    co_await weft::sleep(delay);
    std::printf("t=%s %s finish\n", sw->now().c_str(), name.c_str());
    co_return value;
}

weft::task<void> main_task() {
    scenario::stopwatch clock;
    sw = &clock;
    auto [a, b, c] = co_await weft::gather(work("A", 0.3, 1), work("B", 0.1, 2), work("C", 0.2, 3));
    std::printf("t=%s main got %s\n", sw->now().c_str(), scenario::py_list({a, b, c}).c_str());
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
