// The command line every weft program shares: `--threads N` (the worker
// count, defaulting to WEFT_THREADS and then to the program's own default),
// parsed with CLI11. A bad value gets a clear message and exit status 2.
//
//     int main(int argc, char** argv) {
//         CLI::App app{"echo server"};
//         int threads = weft::cli::hardware_threads();
//         weft::cli::add_threads(app, threads);
//         app.add_option("--port", port, "TCP port");
//         weft::cli::parse(app, argc, argv);
//         return weft::run(serve(port), {.threads = threads});
//     }
#pragma once

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

namespace weft::cli {

// More worker threads than this is taken for a typo.
inline constexpr int max_threads = 1024;

// The machine's hardware threads (at least 1).
inline int hardware_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

// Adds `--threads N` to `app`, storing into `threads`, whose current value is
// the default. WEFT_THREADS, when set, overrides that default.
inline CLI::Option* add_threads(CLI::App& app, int& threads) {
    std::string help =
        "worker threads: 1 runs asyncio's single-thread model, more run Go's "
        "work-stealing model (default " +
        std::to_string(threads) + ")";
    auto whole_number_in_range = [](std::string& value) -> std::string {
        long long n = 0;
        const char* first = value.data();
        const char* last = first + value.size();
        auto [end, err] = std::from_chars(first, last, n);
        if (err != std::errc() || end != last) {
            return "must be a whole number of worker threads, got '" + value + "'";
        }
        if (n < 1 || n > max_threads) {
            return "must be between 1 and " + std::to_string(max_threads) + ", got " + value;
        }
        return {};
    };
    return app.add_option("--threads", threads, help)
        ->envname("WEFT_THREADS")
        ->check(CLI::Validator(whole_number_in_range,
                               "INT in [1, " + std::to_string(max_threads) + "]"));
}

// Parses the command line. --help prints usage and exits 0; any error prints
// the message and usage hint to stderr and exits with status 2.
inline void parse(CLI::App& app, int argc, const char* const* argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        std::exit(app.exit(e));
    } catch (const CLI::CallForAllHelp& e) {
        std::exit(app.exit(e));
    } catch (const CLI::ParseError& e) {
        std::cerr << app.get_name() << ": " << e.what() << "\n"
                  << "Run with --help for usage.\n";
        std::exit(2);
    }
}

}  // namespace weft::cli
