// Port of taskgroup_failure.py: the first failure in a task group cancels the
// other tasks (their cleanup runs); once all have finished the group raises
// an exception group with the error. (ValueError is std::invalid_argument.)
#include <stdexcept>

#include "scenario.hpp"

scenario::stopwatch* sw;

weft::task<void> sleeper() {
    try {
        co_await weft::sleep(1);
    } catch (const weft::cancelled_error&) {
        std::printf("t=%s sleeper cancelled\n", sw->now().c_str());
        throw;
    }
}

weft::task<void> failer() {
    co_await weft::sleep(0.1);
    std::printf("t=%s failer raising\n", sw->now().c_str());
    throw std::invalid_argument("boom");
}

weft::task<void> main_task() {
    scenario::stopwatch clock;
    sw = &clock;
    try {
        weft::task_group tg;
        co_await tg.run([&]() -> weft::task<void> {
            tg.create_task(sleeper());
            tg.create_task(failer());
            std::printf("body done\n");
            co_return;
        }());
    } catch (const weft::exception_group& eg) {
        std::vector<std::string> errors;
        for (const std::exception_ptr& e : eg.exceptions()) {
            try {
                std::rethrow_exception(e);
            } catch (const std::invalid_argument& ex) {
                errors.push_back(std::string("ValueError: ") + ex.what());
            }
        }
        std::printf("t=%s caught ExceptionGroup %s\n", sw->now().c_str(),
                    scenario::py_list(errors).c_str());
    }
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
