// Port of cancel_twice.py: two cancels of a suspended task before it resumes
// are one cancellation (one cancelled_error, the first message, cancelling()
// counting both); an awaited task gets each cancel and also sees one; a cancel
// after the first was seen is delivered again.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "scenario.hpp"

using scenario::py;

weft::task<std::string> waiter(std::string name, std::function<weft::task<void>()> wait) {
    try {
        co_await wait();
        std::printf("%s never printed\n", name.c_str());
    } catch (const weft::cancelled_error& e) {
        weft::task_ref me = weft::current_task();
        std::printf("%s caught CancelledError: %s (cancelling=%d)\n", name.c_str(),
                    e.message().c_str(), me.cancelling());
        std::printf("%s uncancel() returned %d\n", name.c_str(), me.uncancel());
    }
    try {
        co_await weft::sleep(0);
        std::printf("%s next await went through\n", name.c_str());
    } catch (const weft::cancelled_error&) {
        std::printf("%s next await raised CancelledError again\n", name.c_str());
    }
    co_return name;
}

weft::task<std::string> outer_waiter(weft::task_handle<std::string> inner) {
    struct finally {
        weft::task_handle<std::string>& inner;
        ~finally() { std::printf("outer: inner done, cancelled: %s\n", py(inner.cancelled())); }
    } report{inner};
    co_return co_await inner;
}

weft::task<void> sleep_long() {
    co_await weft::sleep(10);
}

weft::task<void> main_task() {
    weft::lock lock;
    co_await lock.acquire();
    weft::event event;
    weft::future<void> fut(weft::get_running_loop());
    std::vector<std::pair<std::string, std::function<weft::task<void>()>>> waits;
    waits.emplace_back("sleep", [] { return sleep_long(); });
    waits.emplace_back("lock", [&lock]() -> weft::task<void> { co_await lock.acquire(); });
    waits.emplace_back("event", [&event]() -> weft::task<void> { co_await event.wait(); });
    waits.emplace_back("future", [&fut]() -> weft::task<void> { co_await fut; });
    for (auto& [name, wait] : waits) {
        auto t = weft::create_task(waiter(name, wait));
        co_await weft::sleep(0.1);
        bool first = t.cancel("first");
        bool second = t.cancel("second");
        std::printf("%s: cancel returned %s, %s; cancelling=%d\n", name.c_str(), py(first),
                    py(second), t.cancelling());
        std::string result = co_await t;
        std::printf("%s: task returned %s, cancelled: %s\n", name.c_str(), result.c_str(),
                    py(t.cancelled()));
    }
    std::printf("future cancelled: %s\n", py(fut.cancelled()));

    auto inner = weft::create_task(waiter("inner", [] { return sleep_long(); }));
    auto outer = weft::create_task(outer_waiter(inner));
    co_await weft::sleep(0.1);
    bool first = outer.cancel("first");
    bool second = outer.cancel("second");
    std::printf("outer: cancel returned %s, %s; cancelling=%d, inner cancelling=%d\n", py(first),
                py(second), outer.cancelling(), inner.cancelling());
    std::string result = co_await outer;
    std::printf("outer: returned %s, cancelled: %s\n", result.c_str(), py(outer.cancelled()));

    auto again = weft::create_task(waiter("again", [] { return sleep_long(); }));
    co_await weft::sleep(0.1);
    std::printf("again: cancel returned %s\n", py(again.cancel("first")));
    co_await weft::sleep(0);  // it catches the first one and waits again
    std::printf("again: cancel returned %s\n", py(again.cancel("later")));
    result = co_await again;
    std::printf("again: task returned %s, cancelling=%d\n", result.c_str(), again.cancelling());
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
