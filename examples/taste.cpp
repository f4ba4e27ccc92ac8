// The example of README.md (tests/readme_check.cmake keeps the two identical).
#include <cstdio>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

weft::task<std::string> fetch(int id, double delay) {
    co_await weft::sleep(delay);  // suspends this task, not the thread
    co_return "data " + std::to_string(id);
}

weft::task<void> main_task() {
    auto slow = weft::create_task(fetch(1, 2.0));  // starts now, runs concurrently
    auto [a, b] = co_await weft::gather(fetch(2, 1.0), fetch(3, 1.5));
    std::printf("%s %s %s\n", a.c_str(), b.c_str(), (co_await slow).c_str());
}  // about 2 s in all, not 4.5

int main(int argc, char** argv) {
    CLI::App app{"taste"};
    int threads = 1;                       // asyncio's model unless told otherwise
    weft::cli::add_threads(app, threads);  // --threads N, or WEFT_THREADS
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(), {.threads = threads});
}
