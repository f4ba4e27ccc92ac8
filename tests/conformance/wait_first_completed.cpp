// Port of wait_first_completed.py: wait(first_completed) returns as soon as
// one task finishes; the others are not cancelled; a plain wait() then waits
// for all.
#include <algorithm>

#include "scenario.hpp"

scenario::stopwatch* sw;

weft::task<std::string> work(std::string name, double delay) {
    co_await weft::sleep(delay);
    std::printf("t=%s %s finished\n", sw->now().c_str(), name.c_str());
    co_return name;
}

std::string names(const std::vector<weft::task_handle<std::string>>& tasks) {
    std::vector<std::string> out;
    for (const auto& t : tasks)
        out.push_back(t.get_name());
    std::sort(out.begin(), out.end());
    return scenario::py_list(out);
}

weft::task<void> main_task() {
    scenario::stopwatch clock;
    sw = &clock;
    std::vector<weft::task_handle<std::string>> tasks;
    for (auto [n, d] : {std::pair{"A", 0.3}, std::pair{"B", 0.1}, std::pair{"C", 0.2}}) {
        tasks.push_back(weft::create_task(work(n, d), n));
    }
    auto first = co_await weft::wait(tasks, std::nullopt, weft::return_when::first_completed);
    std::printf("t=%s done=%s pending=%s\n", sw->now().c_str(), names(first.done).c_str(),
                names(first.pending).c_str());
    auto rest = co_await weft::wait(first.pending);
    std::printf("t=%s done=%s pending=%s\n", sw->now().c_str(), names(rest.done).c_str(),
                names(rest.pending).c_str());
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
