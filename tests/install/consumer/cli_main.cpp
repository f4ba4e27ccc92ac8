// Uses the installed weft/cli.hpp through weft::cli alone.
#include <cstdio>

#include <weft/cli.hpp>
#include <weft/scheduler.hpp>

namespace {
weft::task<int> answer() {
    co_await weft::sleep(0.001);
    co_return 42;
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cli_consumer"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    int result = weft::run(answer(), {.threads = threads});
    std::printf("cli consumer ok %d threads=%d\n", result, threads);
    return result == 42 ? 0 : 1;
}
