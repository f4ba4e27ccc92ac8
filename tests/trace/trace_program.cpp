// Driven by tests/unit/test_trace_dump.cpp, in a process of its own (the
// trace is configured from the environment at startup):
//   trace_program trace     Go mode, 4 workers: named tasks that spawn,
//                           yield and sleep, and one weft::blocking call;
//                           run with WEFT_TRACE=file.json.
//   trace_program sigquit   enables the SIGQUIT dump, raises SIGQUIT while a
//                           task named "sleeper" waits two coroutines deep.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

namespace {

using namespace std::chrono_literals;

weft::task<int> leaf(int i) {
    if (i % 3 == 0) co_await weft::yield_now();
    if (i % 5 == 0) co_await weft::sleep(1ms);
    co_return i;
}

weft::task<int> trace_main() {
    int sum = 0;
    for (int round = 0; round < 20; ++round) {
        std::vector<weft::task_handle<int>> hs;
        for (int i = 0; i < 50; ++i)
            hs.push_back(weft::create_task(leaf(i), "leaf-" + std::to_string(i)));
        for (auto& h : hs)
            sum += co_await h;
    }
    co_await weft::blocking([] { std::this_thread::sleep_for(20ms); });
    co_return sum;
}

weft::task<void> innermost_wait(weft::event* e) {
    co_await e->wait();
}

weft::task<void> nested_wait(weft::event* e) {
    co_await innermost_wait(e);
}

weft::task<void> sigquit_main() {
    weft::event e;
    auto h = weft::create_task(nested_wait(&e), "sleeper");
    co_await weft::sleep(20ms);
    std::raise(SIGQUIT);
    co_await weft::sleep(300ms);  // the dump is printed meanwhile
    e.set();
    co_await h;
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    int threads = argc > 2 ? std::stoi(argv[2]) : 4;
    if (mode == "trace") {
        int sum = weft::run(trace_main(), {.threads = threads});
        std::printf("sum=%d\n", sum);
        return sum == 20 * (49 * 50 / 2) ? 0 : 1;
    }
    if (mode == "sigquit") {
        weft::enable_task_dump_on_sigquit();
        weft::run(sigquit_main(), {.threads = threads});
        std::printf("done\n");
        return 0;
    }
    std::fprintf(stderr, "usage: trace_program trace|sigquit [threads]\n");
    return 2;
}
