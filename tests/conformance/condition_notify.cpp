// Port of condition_notify.py: notify(1) wakes only the longest-waiting task
// and notify_all the rest in FIFO order; a woken waiter returns from wait()
// only after re-acquiring the lock.
#include "scenario.hpp"

weft::task<void> waiter(std::string name, weft::condition* cond) {
    auto held = co_await cond->scoped();
    std::printf("%s waiting\n", name.c_str());
    co_await cond->wait();
    std::printf("%s woke\n", name.c_str());
}

weft::task<void> main_task() {
    weft::condition cond;
    std::vector<weft::task_handle<void>> tasks;
    for (const char* name : {"A", "B", "C"})
        tasks.push_back(weft::create_task(waiter(name, &cond)));
    co_await weft::sleep(0.1);
    {
        auto held = co_await cond.scoped();
        std::printf("notify(1)\n");
        cond.notify(1);
    }
    co_await weft::sleep(0.1);
    {
        auto held = co_await cond.scoped();
        std::printf("notify_all\n");
        cond.notify_all();
        co_await weft::sleep(0.1);
        std::printf("main releasing lock\n");
    }
    co_await weft::gather(std::move(tasks));
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
