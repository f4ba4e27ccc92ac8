// Port of sleep0_one_iteration.py: sleep(0) suspends for exactly one loop
// iteration: callbacks already queued run before the task resumes, callbacks
// they schedule run after.
#include "scenario.hpp"

weft::task<void> main_task() {
    weft::get_running_loop().call_soon([] {
        std::printf("callback first\n");
        weft::get_running_loop().call_soon([] { std::printf("callback second\n"); });
    });
    std::printf("main before sleep(0)\n");
    co_await weft::sleep(0);
    std::printf("main after first sleep(0)\n");
    co_await weft::sleep(0);
    std::printf("main after second sleep(0)\n");
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
