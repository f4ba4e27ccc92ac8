// For tests/unit/test_sigint.cpp: prints "ready", then sleeps until
// cancelled; its cleanup prints "cleanup" (and with --stubborn sleeps on, so
// that a second SIGINT has something to interrupt).
#include <cstdio>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

namespace {
weft::task<void> main_task(bool stubborn) {
    std::printf("ready\n");
    std::fflush(stdout);
    bool cancelled = false;
    try {
        co_await weft::sleep(60);
    } catch (const weft::cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        std::printf("cleanup\n");
        std::fflush(stdout);
        if (stubborn) co_await weft::sleep(60);  // asyncio.shield-free cleanup that takes long
        throw weft::cancelled_error();
    }
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"sigint_program"};
    int threads = 1;
    bool stubborn = false;
    weft::cli::add_threads(app, threads);
    app.add_flag("--stubborn", stubborn, "keep cleaning up until a second SIGINT");
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(stubborn), {.threads = threads});
    std::printf("not reached\n");
}
