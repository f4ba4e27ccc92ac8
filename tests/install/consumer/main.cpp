// Uses the installed headers and libraries in both modes, and checks that the
// library it runs against is the version its headers say.
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
    if (weft::linked_version() != WEFT_VERSION) {
        std::printf("consumer: headers are %s, the library is %d\n", weft::version_string,
                    weft::linked_version());
        return 1;
    }
    int single = weft::run(main_task());
    int multi = weft::run(main_task(), {.threads = 2});
    std::printf("consumer ok %d %d version %s\n", single, multi, weft::version_string);
    return single == 42 && multi == 42 ? 0 : 1;
}
