// Port of timeout_basic.py: timeout(d) cancels the body at the deadline and
// turns that into timeout_error where the scope ends (expired() is then
// true); a body that ends in time is untouched.
#include "scenario.hpp"

using scenario::py;

weft::task<void> main_task() {
    scenario::stopwatch sw;
    weft::timeout_scope fast = weft::timeout(0.2);
    co_await fast.run([&]() -> weft::task<void> {
        co_await weft::sleep(0.1);
        std::printf("t=%s fast body done\n", sw.now().c_str());
    }());
    std::printf("fast block expired: %s\n", py(fast.expired()));
    weft::timeout_scope slow = weft::timeout(0.2);
    try {
        co_await slow.run([&]() -> weft::task<void> {
            try {
                co_await weft::sleep(1);
            } catch (const weft::cancelled_error&) {
                std::printf("t=%s body sees CancelledError\n", sw.now().c_str());
                throw;
            }
        }());
    } catch (const weft::timeout_error&) {
        std::printf("t=%s main caught TimeoutError, expired: %s\n", sw.now().c_str(),
                    py(slow.expired()));
    }
    std::printf("main cancelling(): %d\n", weft::current_task().cancelling());
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}
