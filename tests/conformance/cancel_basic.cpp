// Port of cancel_basic.py: cancel(msg) raises cancelled_error carrying msg at
// the suspended await; cleanup runs; the awaiter sees the task cancelled.
#include "scenario.hpp"

using scenario::py;

weft::task<void> worker() {
    struct finally {
        ~finally() { std::printf("worker finally\n"); }
    } cleanup;
    try {
        std::printf("worker sleeping\n");
        co_await weft::sleep(1);
        std::printf("never printed\n");
    } catch (const weft::cancelled_error& e) {
        std::printf("worker got CancelledError: %s\n", e.what());
        throw;
    }
}

weft::task<void> main_task() {
    scenario::stopwatch sw;
    auto t = weft::create_task(worker());
    co_await weft::sleep(0.1);
    std::printf("cancel returned %s\n", py(t.cancel("stop now")));
    std::printf("done right after cancel: %s\n", py(t.done()));
    try {
        co_await t;
    } catch (const weft::cancelled_error&) {
        std::printf("main: await raised CancelledError\n");
    }
    std::printf("t=%s cancelled: %s\n", sw.now().c_str(), py(t.cancelled()));
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
