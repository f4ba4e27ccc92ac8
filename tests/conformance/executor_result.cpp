// Port of executor_result.py: run_in_executor(nullptr, fn, args...) runs fn in
// the default thread pool; the awaiting task gets its return value, and an
// exception raised by fn reaches the awaiter with its type and message.
// (ValueError is std::invalid_argument here.)
#include <stdexcept>
#include <vector>

#include "scenario.hpp"

int blocking(int x) {
    if (x < 0) throw std::invalid_argument("negative");
    return x * 2;
}

weft::task<void> main_task() {
    std::printf("result %d\n", co_await weft::run_in_executor(nullptr, blocking, 21));
    try {
        co_await weft::run_in_executor(nullptr, blocking, -1);
    } catch (const std::invalid_argument& e) {
        std::printf("caught ValueError %s\n", e.what());
    }
    std::vector<weft::executor_future<int>> futures;
    for (int i = 0; i < 3; ++i)
        futures.push_back(weft::run_in_executor(nullptr, blocking, i));
    std::printf("gathered %s\n",
                scenario::py_list(co_await weft::gather(std::move(futures))).c_str());
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
