// weft inside a program that is not built around it: a plain multi-threaded
// "server" whose request threads are ordinary std::threads. Each request
// hands a coroutine to a weft runtime running in the background, which
// fans the work out concurrently, and the request thread waits for the
// result, as it would on a std::future. The program keeps its own main,
// its threads and its shutdown; weft only runs the coroutines.
//
// The runtime is asyncio's single loop with --threads 1 and Go's work
// stealing with more; the printed summary is the same either way.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;

// A backend call: a millisecond of waiting (a database, a cache), then an
// answer that depends on the key.
weft::task<long> lookup(long key) {
    co_await weft::sleep(1ms);
    co_return key* key % 1009;
}

// One request: three lookups at once (gather), combined.
weft::task<long> handle_request(long id) {
    auto [a, b, c] = co_await weft::gather(lookup(id), lookup(id + 1), lookup(id + 2));
    co_return a + b + c;
}

int main(int argc, char** argv) {
    CLI::App app{"embed_threads: request threads of a plain program hand coroutines to weft"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);

    // The program's own setup: request threads and their work.
    constexpr int request_threads = 4;
    constexpr long requests_per_thread = 50;

    weft::runtime_options options;
    options.threads = threads;
    options.thread_name_prefix = "weft";  // shows as weft-0, weft-1... in top -H
    weft::runtime rt(options);            // starts in the background, returns at once
    weft::runtime_handle weft_handle = rt.handle();

    std::vector<long> totals(request_threads, 0);
    std::vector<std::thread> servers;
    for (int t = 0; t < request_threads; ++t) {
        servers.emplace_back([&, t] {
            for (long i = 0; i < requests_per_thread; ++i) {
                long id = t * requests_per_thread + i;
                // Hand the coroutine over and wait here, off the loop.
                weft::remote_task<long> reply = weft_handle.spawn(handle_request(id));
                totals[static_cast<std::size_t>(t)] += reply.get();
            }
        });
    }
    for (auto& s : servers)
        s.join();

    // block_on: the same, in one call, from main's thread.
    long extra = weft_handle.block_on(handle_request(0));

    // The program decides when weft stops; a report would name stuck tasks.
    weft::shutdown_report report = rt.shutdown(2s);

    long checksum = extra;
    for (long v : totals)
        checksum += v;
    std::printf("served %ld requests on %d threads, checksum %ld, clean shutdown: %s\n",
                request_threads * requests_per_thread + 1, request_threads, checksum,
                report.empty() ? "yes" : "no");
    return report.empty() ? 0 : 1;
}
