// For the run.* tests of tests/CMakeLists.txt: a program that owns main the
// way asyncio.run's programs do, a plain weft::run with nothing around it.
// It prints "starting" (buffered: a pipe is not a terminal), then the
// thread count its task ran on. A bad WEFT_THREADS must end it with one line
// on stderr and exit status 1, after "starting" reached stdout.
#include <algorithm>
#include <cstdio>

#include <weft/weft.hpp>

namespace {
weft::task<int> main_task() {
    co_await weft::sleep(0);
    // Go mode's workers report their metrics; asyncio mode has none.
    co_return static_cast<int>(std::max<std::size_t>(1, weft::runtime_stats().size()));
}
}  // namespace

int main() {
    std::printf("starting\n");
    int threads = weft::run(main_task());
    std::printf("ran on %d thread%s\n", threads, threads == 1 ? "" : "s");
}
