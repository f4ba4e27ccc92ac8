// Port of done_callbacks.py: done callbacks are scheduled with call_soon in
// registration order (also when added after completion);
// remove_done_callback drops every copy and returns the count.
#include "scenario.hpp"

using scenario::py;

weft::task<int> work() {
    std::printf("work returning\n");
    co_return 7;
}

// Python compares callbacks by identity; here by value (the name).
struct callback {
    std::string name;
    void operator()(weft::task_handle<int>& t) const {
        std::printf("%s sees %d\n", name.c_str(), t.result());
    }
    bool operator==(const callback&) const = default;
};

weft::task<void> main_task() {
    auto t = weft::create_task(work());
    callback a{"A"}, b{"B"}, c{"C"};
    t.add_done_callback(a);
    t.add_done_callback(b);
    t.add_done_callback(a);
    t.add_done_callback(c);
    std::printf("removed %zu\n", t.remove_done_callback(a));
    co_await weft::sleep(0);
    std::printf("main after one iteration, done: %s\n", py(t.done()));
    co_await weft::sleep(0);
    std::printf("main after two iterations\n");
    t.add_done_callback(a);
    std::printf("added A to done task\n");
    co_await weft::sleep(0);
    std::printf("main done\n");
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
