// Port of call_soon_fifo.py: call_soon runs callbacks FIFO; one scheduled
// during a batch runs in the next iteration, after the whole batch.
#include "scenario.hpp"

void callback(std::string name) {
    std::printf("%s\n", name.c_str());
    if (name.size() == 1) weft::get_running_loop().call_soon([name] { callback(name + "2"); });
}

weft::task<void> main_task() {
    weft::event_loop& loop = weft::get_running_loop();
    loop.call_soon([] { callback("A"); });
    loop.call_soon([] { callback("B"); });
    loop.call_soon([] { callback("C"); });
    std::printf("main scheduled A B C\n");
    co_await weft::sleep(0.1);
    std::printf("main done\n");
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
