// gather runs coroutines concurrently and hands back their results in
// argument order, whatever order they finish in (~3 s for 2, 1 and 3 s).
// The C++ twin of the gather program of the asyncio tutorials.
#include <cstdio>
#include <string>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

// Python returns the dict {"id": id, "data": ...}. (The tutorial's gather
// version spells the key "'id", a typo; this prints 'id' as its tasks
// version does.)
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
    // gather makes a task of each coroutine at once; their results come back
    // as a tuple in argument order: coroutine 2 finishes first but is second.
    auto [r1, r2, r3] = co_await weft::gather(fetch_data(1, 2), fetch_data(2, 1), fetch_data(3, 3));
    for (const fetched& result : {r1, r2, r3}) {
        std::printf("Received result: %s\n", repr(result).c_str());
    }
}

int main(int argc, char** argv) {
    CLI::App app{"fetch_data three times at once with gather"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(), {.threads = threads});
}
