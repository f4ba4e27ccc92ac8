// A slow write handed to a background task while main goes on with other
// work: both take 5 s, and since they overlap the program takes ~5 s, not 10.
// The C++ twin of the write_to_mysql program of the asyncio tutorials.
#include <cstdio>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

// Stands in for an asynchronous write to MySQL that takes 5 seconds.
weft::task<void> write_to_mysql() {
    co_await weft::sleep(5);
    std::printf("Data written.\n");
}

weft::task<void> main_task() {
    // The task starts in the background at main_task's next co_await.
    auto write = weft::create_task(write_to_mysql());
    std::printf("Write moved to the background, carrying on with other work.\n");

    // Work that does not depend on the write.
    co_await weft::sleep(5);
    std::printf("Other work done.\n");

    // Wait for the write where its outcome is needed. Without this, weft::run
    // (like asyncio.run) would cancel the write when main_task returns.
    co_await write;
    std::printf("Background write done.\n");
}

int main(int argc, char** argv) {
    CLI::App app{"a background write task overlapping other work"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(), {.threads = threads});
}
