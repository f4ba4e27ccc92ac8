// Port of unawaited_exception.py: an exception escaping a task nobody awaits
// neither stops the loop nor disturbs other tasks; it is stored on the task,
// where done callbacks and exception() see it. (RuntimeError is
// std::runtime_error here.)
#include <stdexcept>

#include "scenario.hpp"

using scenario::py;

weft::task<void> bad() {
    co_await weft::sleep(0);
    std::printf("bad raising\n");
    throw std::runtime_error("oops");
}

weft::task<void> good() {
    for (int i = 0; i < 3; ++i) {
        std::printf("good step %d\n", i);
        co_await weft::sleep(0);
    }
}

void report(weft::task_handle<void>& task) {
    try {
        std::rethrow_exception(task.exception());
    } catch (const std::runtime_error& e) {
        std::printf("callback sees RuntimeError %s\n", e.what());
    }
}

weft::task<void> main_task() {
    auto b = weft::create_task(bad());
    b.add_done_callback(report);
    co_await weft::create_task(good());
    bool is_runtime_error = false;
    try {
        std::rethrow_exception(b.exception());
    } catch (const std::runtime_error&) {
        is_runtime_error = true;
    }
    std::printf("main sees done: %s %s\n", py(b.done()), is_runtime_error ? "RuntimeError" : "?");
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
