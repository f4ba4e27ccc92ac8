// Coroutines are lazy: calling fetch_data() runs nothing, and awaiting two of
// them one after the other runs them one after the other (1 s + 2 s = ~3 s).
// The C++ twin of the first fetch_data program of the asyncio tutorials.
#include <cstdio>
#include <string>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

// Python returns the dict {"data": "some data"}; a struct is C++'s dict with
// fixed keys.
struct fetched {
    std::string data;
};

// Simulates a network request that takes `delay` seconds.
weft::task<fetched> fetch_data(double delay) {
    std::printf("fetch dataing\n");
    co_await weft::sleep(delay);
    std::printf("data fetched\n");
    co_return fetched{"some data"};
}

weft::task<void> main_task() {
    std::printf("start of main coroutine\n");
    // Like a Python coroutine object, a weft::task does nothing until awaited.
    weft::task<fetched> co1 = fetch_data(1);
    weft::task<fetched> co2 = fetch_data(2);
    std::printf("run before fetch data\n");
    // Each co_await runs its task to the end before the next line: no
    // overlap. See fetch_data_tasks and fetch_data_gather for that.
    fetched result = co_await co1;
    result = co_await co2;
    std::printf("run until fetch data return {'data': '%s'}\n", result.data.c_str());
}

int main(int argc, char** argv) {
    CLI::App app{"fetch_data awaited twice in a row: the waits add up"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(), {.threads = threads});
}
