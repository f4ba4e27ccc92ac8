// Port of lock_fifo.py: the lock goes to blocked tasks in the FIFO order of
// their acquire() calls, and the first acquire of a free lock does not
// suspend.
#include "scenario.hpp"

using scenario::py;

weft::task<void> worker(std::string name, weft::lock* lock) {
    std::printf("%s wants lock\n", name.c_str());
    {
        auto held = co_await lock->scoped();
        std::printf("%s has lock\n", name.c_str());
        co_await weft::sleep(0.1);
    }
    std::printf("%s released\n", name.c_str());
}

weft::task<void> main_task() {
    weft::lock lock;
    std::vector<weft::task_handle<void>> tasks;
    for (const char* name : {"A", "B", "C", "D"})
        tasks.push_back(weft::create_task(worker(name, &lock)));
    co_await weft::gather(std::move(tasks));
    std::printf("locked at end: %s\n", py(lock.locked()));
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
