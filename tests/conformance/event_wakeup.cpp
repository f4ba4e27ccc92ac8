// Port of event_wakeup.py: set() wakes every waiter in the order they started
// waiting; wait() on a set event returns true without suspending; after
// clear() new waiters block until the next set().
#include "scenario.hpp"

using scenario::py;

weft::task<void> waiter(std::string name, weft::event* ev) {
    std::printf("%s waiting\n", name.c_str());
    co_await ev->wait();
    std::printf("%s woke\n", name.c_str());
}

weft::task<void> main_task() {
    weft::event ev;
    std::vector<weft::task_handle<void>> tasks;
    for (const char* name : {"A", "B", "C"})
        tasks.push_back(weft::create_task(waiter(name, &ev)));
    co_await weft::sleep(0.1);
    std::printf("setting\n");
    ev.set();
    std::printf("main wait returns %s\n", py(co_await ev.wait()));
    co_await weft::gather(std::move(tasks));
    ev.clear();
    auto late = weft::create_task(waiter("D", &ev));
    co_await weft::sleep(0.1);
    std::printf("D done before set: %s\n", py(late.done()));
    ev.set();
    co_await late;
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
