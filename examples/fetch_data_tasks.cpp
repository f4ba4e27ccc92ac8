// create_task runs coroutines concurrently: three fetches of 2, 3 and 1
// seconds take ~3 s in all, the longest of them, not 6.
// The C++ twin of the create_task program of the asyncio tutorials.
#include <cstdio>
#include <string>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

// Python returns the dict {"id": id, "data": ...}.
struct fetched {
    int id;
    std::string data;
};

// Prints a fetched the way Python prints the dict.
std::string repr(const fetched& r) {
    return "{'id': " + std::to_string(r.id) + ", 'data': '" + r.data + "'}";
}

weft::task<fetched> fetch_data(int id, double sleep_time) {
    std::printf("coroutine %d starting to fetch data.\n", id);
    co_await weft::sleep(sleep_time);
    co_return fetched{id, "sample data from coroutine " + std::to_string(id)};
}

weft::task<void> main_task() {
    // Each task is scheduled at once but starts only when main_task gives up
    // the loop, at its first co_await: hence "three task created" comes first.
    auto task1 = weft::create_task(fetch_data(1, 2));
    auto task2 = weft::create_task(fetch_data(2, 3));
    auto task3 = weft::create_task(fetch_data(3, 1));
    std::printf("three task created\n");
    // The three sleeps overlap; awaiting a finished task returns at once.
    fetched result1 = co_await task1;
    fetched result2 = co_await task2;
    fetched result3 = co_await task3;
    std::printf("%s %s %s\n", repr(result1).c_str(), repr(result2).c_str(), repr(result3).c_str());
}

int main(int argc, char** argv) {
    CLI::App app{"fetch_data as three concurrent tasks"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(), {.threads = threads});
}
