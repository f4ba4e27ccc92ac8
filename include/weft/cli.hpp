// The command line every weft program shares: `--threads N` (the worker
// count, defaulting to WEFT_THREADS and then to the program's own default),
// parsed with CLI11, and checks for numeric flags whose messages name the
// flag, the value as typed and the range. A bad value gets one clear message
// and exit status 2. Link the CMake target weft::cli (it brings CLI11);
// weft/weft.hpp does not include this header.
//
//     #include <weft/cli.hpp>
//     #include <weft/weft.hpp>
//
//     int main(int argc, char** argv) {
//         CLI::App app{"echo server"};
//         int threads = weft::cli::hardware_threads();
//         weft::cli::add_threads(app, threads);
//         int port = 8888;
//         app.add_option("--port", port, "TCP port")->check(weft::cli::whole_number(0, 65535));
//         weft::cli::parse(app, argc, argv);
//         return weft::run(serve(port), {.threads = threads});
//     }
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <system_error>
#include <type_traits>

#include <CLI/CLI.hpp>

#include <weft/errors.hpp>
#include <weft/parallelism.hpp>
#include <weft/run.hpp>

namespace weft::cli {

// The threads this process can run at once (weft::available_parallelism:
// the affinity mask and the cgroup CPU quota), at most weft::max_threads.
inline int hardware_threads() {
    return std::min(weft::available_parallelism(), weft::max_threads);
}

// A check for a whole-number flag: decimal digits (a leading '-' where `min`
// is negative) that make a number from `min` to `max`. The message names the
// value as typed, also when it overflows, and the range; CLI11 puts the
// flag's name before it.
template <class Int>
CLI::Validator whole_number(Int min, Int max) {
    static_assert(std::is_integral_v<Int>);
    std::string range = "from " + std::to_string(min) + " to " + std::to_string(max);
    auto check = [min, max, range](std::string& value) -> std::string {
        Int n{};
        const char* first = value.data();
        const char* last = first + value.size();
        auto [end, err] = std::from_chars(first, last, n);
        if (value.empty() || err != std::errc() || end != last || n < min || n > max) {
            return "must be a whole number " + range + ", got '" + value + "'";
        }
        return {};
    };
    return CLI::Validator(check, "in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
}

namespace detail {
inline std::string format_number(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    return buf;
}
}  // namespace detail

// A check for a decimal-number flag: a finite number from `min` to `max`
// ("inf", "nan" and numbers too large for a double are refused). The message
// names the value as typed and the range.
inline CLI::Validator number(double min, double max) {
    std::string lo = detail::format_number(min), hi = detail::format_number(max);
    auto check = [min, max, lo, hi](std::string& value) -> std::string {
        double x = 0;
        const char* first = value.data();
        const char* last = first + value.size();
        auto [end, err] = std::from_chars(first, last, x);
        if (value.empty() || err != std::errc() || end != last || !std::isfinite(x) || x < min ||
            x > max) {
            return "must be a number from " + lo + " to " + hi + ", got '" + value + "'";
        }
        return {};
    };
    return CLI::Validator(check, "in [" + lo + ", " + hi + "]");
}

// Adds `--threads N` to `app`, storing into `threads`, whose current value is
// the default. WEFT_THREADS, when set and not empty, overrides that default
// (read by weft::cli::parse; set but empty counts as not set, as Go takes an
// empty GOMAXPROCS). Both go through weft::parse_thread_count, so the flag,
// the variable and run_options::threads share one limit, weft::max_threads.
inline CLI::Option* add_threads(CLI::App& app, int& threads) {
    std::string help =
        "worker threads: 1 runs asyncio's single-thread model, more run Go's "
        "work-stealing model (default " +
        std::to_string(threads) + "; WEFT_THREADS, when set, overrides the default)";
    auto check = [](std::string& value) -> std::string {
        try {
            (void)weft::parse_thread_count(value, "--threads");
        } catch (const weft::configuration_error& e) {
            return e.problem();  // CLI11 puts "--threads: " before it
        }
        return {};
    };
    return app.add_option("--threads", threads, help)
        ->check(CLI::Validator(check, "in [1, " + std::to_string(weft::max_threads) + "]"));
}

// Adds `--model asyncio|go` to `app`, storing into `model` (run_options::
// model). Left out, `model` stays as it was (automatic: WEFT_MODEL, else
// asyncio at one thread and Go above, decided by weft::run).
inline CLI::Option* add_model(CLI::App& app, weft::scheduling_model& model) {
    auto check = [](std::string& value) -> std::string {
        try {
            (void)weft::parse_scheduling_model(value, "--model");
        } catch (const weft::configuration_error& e) {
            return e.problem();
        }
        return {};
    };
    return app
        .add_option_function<std::string>(
            "--model",
            [&model](const std::string& value) {
                model = weft::parse_scheduling_model(value, "--model");
            },
            "scheduling model: asyncio (one thread, asyncio's order) or go (work stealing, any "
            "thread count); default: WEFT_MODEL when set, else asyncio at --threads 1 and go "
            "above")
        ->check(CLI::Validator(check, "asyncio|go"));
}

// `--io epoll|uring|auto` into `io` (run_options::io); a bad value is a
// usage error naming the flag.
inline CLI::Option* add_io(CLI::App& app, weft::io_backend& io) {
    auto check = [](std::string& value) -> std::string {
        try {
            (void)weft::parse_io_backend(value, "--io");
        } catch (const weft::configuration_error& e) {
            return e.problem();
        }
        return {};
    };
    return app
        .add_option_function<std::string>(
            "--io", [&io](const std::string& value) { io = weft::parse_io_backend(value, "--io"); },
            "I/O backend: epoll, uring (io_uring), or auto (io_uring when the kernel allows it, "
            "else epoll); default: WEFT_IO when set, else epoll")
        ->check(CLI::Validator(check, "epoll|uring|auto"));
}

namespace detail {
// WEFT_THREADS, for a `--threads` that the command line left out: checked
// with the variable's name in the message, then stored as the flag would be.
inline void apply_threads_environment(CLI::App& app) {
    CLI::Option* option = app.get_option_no_throw("--threads");
    if (option == nullptr || option->count() > 0) return;
    const char* env = std::getenv("WEFT_THREADS");
    if (env == nullptr || *env == '\0') return;
    (void)weft::parse_thread_count(env, "WEFT_THREADS");
    option->add_result(std::string(env));
    option->run_callback();
}

// `--model asyncio` with more than one thread: said in the flags' terms here
// rather than later by weft::run in run_options' terms.
inline void check_model_threads(CLI::App& app) {
    CLI::Option* model = app.get_option_no_throw("--model");
    CLI::Option* threads = app.get_option_no_throw("--threads");
    if (model == nullptr || threads == nullptr || model->count() == 0) return;
    if (model->as<std::string>() != "asyncio" || threads->count() == 0) return;
    int n = threads->as<int>();
    if (n > 1) {
        throw weft::configuration_error("--model",
                                        "asyncio's model runs on one thread, but "
                                        "--threads is " +
                                            std::to_string(n) + " (use --model go)");
    }
}
}  // namespace detail

// Parses the command line, then WEFT_THREADS for a `--threads` it left out.
// --help prints usage and exits 0; any error prints the message and a usage
// hint to stderr and exits with status 2.
inline void parse(CLI::App& app, int argc, const char* const* argv) {
    try {
        app.parse(argc, argv);
        detail::apply_threads_environment(app);
        detail::check_model_threads(app);
    } catch (const CLI::CallForHelp& e) {
        std::exit(app.exit(e));
    } catch (const CLI::CallForAllHelp& e) {
        std::exit(app.exit(e));
    } catch (const CLI::ParseError& e) {
        std::cerr << app.get_name() << ": " << e.what() << "\n"
                  << "Run with --help for usage.\n";
        std::exit(2);
    } catch (const weft::configuration_error& e) {
        std::cerr << app.get_name() << ": " << e.what() << "\n"
                  << "Run with --help for usage.\n";
        std::exit(2);
    }
}

}  // namespace weft::cli
