// Port of task_state.py: done/cancelled/result/exception of a pending,
// finished, failed and cancelled task, and which accessor raises what.
// (ValueError is std::invalid_argument here.)
#include <stdexcept>

#include "scenario.hpp"

using scenario::py;

weft::task<int> work(bool fail) {
    co_await weft::sleep(0.1);
    if (fail) throw std::invalid_argument("bad");
    co_return 42;
}

weft::task<void> main_task() {
    auto t_ok = weft::create_task(work(false));
    auto t_fail = weft::create_task(work(true));
    auto t_cancel = weft::create_task(work(false));
    std::printf("pending: %s %s\n", py(t_ok.done()), py(t_ok.cancelled()));
    try {
        t_ok.result();
    } catch (const weft::invalid_state_error&) {
        std::printf("pending result(): InvalidStateError\n");
    }
    t_cancel.cancel();
    co_await weft::sleep(0.2);
    std::printf("finished: %s %s %d %s\n", py(t_ok.done()), py(t_ok.cancelled()), t_ok.result(),
                t_ok.exception() ? "?" : "None");
    std::exception_ptr exc = t_fail.exception();
    std::string what;
    try {
        std::rethrow_exception(exc);
    } catch (const std::invalid_argument& e) {
        what = e.what();
    }
    std::printf("failed: %s %s ValueError %s\n", py(t_fail.done()), py(t_fail.cancelled()),
                what.c_str());
    try {
        t_fail.result();
    } catch (const std::invalid_argument& e) {
        std::printf("failed result(): ValueError %s\n", e.what());
    }
    std::printf("cancelled: %s %s\n", py(t_cancel.done()), py(t_cancel.cancelled()));
    try {
        t_cancel.result();
    } catch (const weft::cancelled_error&) {
        std::printf("cancelled result(): CancelledError\n");
    }
    try {
        (void)t_cancel.exception();
    } catch (const weft::cancelled_error&) {
        std::printf("cancelled exception(): CancelledError\n");
    }
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
