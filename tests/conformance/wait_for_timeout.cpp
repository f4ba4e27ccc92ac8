// Port of wait_for_timeout.py: wait_for returns the result when in time; on
// timeout it cancels the inner task, waits for that, then raises timeout_error.
#include "scenario.hpp"

using scenario::py;

scenario::stopwatch* sw;

weft::task<std::string> work(std::string name, double delay) {
    try {
        co_await weft::sleep(delay);
        co_return name + " result";
    } catch (const weft::cancelled_error&) {
        std::printf("t=%s %s cancelled\n", sw->now().c_str(), name.c_str());
        throw;
    }
}

weft::task<void> main_task() {
    scenario::stopwatch clock;
    sw = &clock;
    std::string r = co_await weft::wait_for(work("A", 0.1), 0.2);
    std::printf("t=%s main got %s\n", sw->now().c_str(), r.c_str());
    auto t = weft::create_task(work("B", 1));
    try {
        co_await weft::wait_for(t, 0.2);
    } catch (const weft::timeout_error&) {
        std::printf("t=%s main TimeoutError, B cancelled: %s\n", sw->now().c_str(),
                    py(t.cancelled()));
    }
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
