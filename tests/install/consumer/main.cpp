// Uses the installed headers and libraries in both modes.
#include <cstdio>

#include <weft/weft.hpp>

// weft/weft.hpp leaves the command line, and so CLI11, to weft/cli.hpp.
#ifdef CLI11_VERSION
#error "weft/weft.hpp must not bring in CLI11"
#endif

namespace {
weft::task<int> double_it(int x) {
    co_await weft::sleep(0.001);
    co_return x * 2;
}
weft::task<int> main_task() {
    auto [a, b] = co_await weft::gather(double_it(10), double_it(11));
    co_return a + b;
}
}  // namespace

int main() {
    int single = weft::run(main_task());
    int multi = weft::run(main_task(), {.threads = 2});
    std::printf("consumer ok %d %d\n", single, multi);
    return single == 42 && multi == 42 ? 0 : 1;
}
