// wait_for puts a deadline on an await: a 5 s sleep under a 2 s timeout is
// cancelled after 2 s, and the caller gets weft::timeout_error.
// The C++ twin of the wait_for program of the asyncio tutorials.
#include <cstdio>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

// Python calls this one `sleep`, a name weft::sleep and POSIX already use.
weft::task<void> sleep_then_hello(double second) {
    co_await weft::sleep(second);
    std::printf("hello asyncio\n");  // never printed: cancelled at 2 s
}

weft::task<void> test_timeout(double second) {
    try {
        co_await weft::wait_for(sleep_then_hello(second), 2.0);
    } catch (const weft::timeout_error&) {
        // Python prints the name of what it caught, asyncio.TimeoutError.
        std::printf("weft::timeout_error\n");
    }
}

weft::task<void> main_task() {
    co_await test_timeout(5);
}

int main(int argc, char** argv) {
    CLI::App app{"wait_for: a 2 s timeout around a 5 s sleep"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(), {.threads = threads});
}
