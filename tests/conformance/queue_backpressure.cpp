// Port of queue_backpressure.py: a queue with maxsize is FIFO; put() blocks
// while it is full and blocked putters get in in the order they blocked as
// the consumer frees slots; put_nowait on a full queue raises queue_full.
#include "scenario.hpp"

using scenario::py;

weft::task<void> producer(std::string name, weft::queue<std::string>* queue) {
    std::printf("%s putting\n", name.c_str());
    co_await queue->put(name);
    std::printf("%s put done\n", name.c_str());
}

weft::task<void> main_task() {
    weft::queue<std::string> queue(1);
    co_await queue.put("X");
    try {
        queue.put_nowait("Y");
    } catch (const weft::queue_full&) {
        std::printf("put_nowait: QueueFull\n");
    }
    std::vector<weft::task_handle<void>> tasks;
    for (const char* name : {"A", "B", "C"})
        tasks.push_back(weft::create_task(producer(name, &queue)));
    co_await weft::sleep(0.1);
    for (int i = 0; i < 4; ++i)
        std::printf("got %s\n", (co_await queue.get()).c_str());
    co_await weft::gather(std::move(tasks));
    std::printf("empty at end: %s\n", py(queue.empty()));
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
