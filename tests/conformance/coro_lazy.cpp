// Port of coro_lazy.py: calling a coroutine runs nothing; awaiting runs it
// inline; create_task starts tasks on a later iteration, in creation order.
#include "scenario.hpp"

weft::task<void> work(std::string name) {
    std::printf("%s start\n", name.c_str());
    co_await weft::sleep(0);
    std::printf("%s end\n", name.c_str());
}

weft::task<void> main_task() {
    weft::task<void> c = work("C");
    std::printf("coroutine created\n");
    auto a = weft::create_task(work("A"));
    auto b = weft::create_task(work("B"));
    std::printf("tasks created\n");
    co_await c;
    std::printf("main awaited C\n");
    co_await a;
    co_await b;
    std::printf("main done\n");
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
