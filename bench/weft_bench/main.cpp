// weft-bench: the workloads of bench/peers/SPEC.md, run on weft.
//
//     weft-bench [--threads N] [--model asyncio|go] [--io epoll|uring|auto] [--bench NAME|all]
//                [--n N] [--m M]
//                [--json] [--list] [--quiet] [--blocking-threshold-ms MS]
//
// stdout carries only the machine-readable results: SPEC's result lines
// (`peer=weft bench=fib threads=1 value=… unit=ns/task n=30`), or one JSON
// document with --json. Progress and a human-readable table go to stderr, so
// that peers/anchor_table.sh (WEFT_BENCH=…) and bench/compare read stdout as
// they read every peer's.
//
// Exit status: 0 done (workloads weft cannot run yet are listed on stderr and
// skipped: no number is ever made up), 1 a wrong result or a failure, 2 bad
// command line, 3 the thread count asks for a mode weft does not have yet.
#include <chrono>
#include <cstdio>
#include <exception>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <weft/cli.hpp>
#include <weft/errors.hpp>
#include <weft/run.hpp>

#include "output.hpp"
#include "workload.hpp"

namespace {

using namespace weft_bench;

constexpr int exit_wrong_result = 1;
constexpr int exit_usage = 2;
constexpr int exit_mode_not_available = 3;

std::string known_names() {
    std::string s;
    for (const workload& w : workloads())
        s += std::string(s.empty() ? "" : ", ") + std::string(w.name);
    return s + ", all";
}

// The workloads `--bench` selects, in run order.
std::vector<const workload*> select(const std::string& bench) {
    std::vector<const workload*> out;
    for (const workload& w : workloads()) {
        if (bench == "all" ? w.in_all : w.name == bench) out.push_back(&w);
    }
    return out;
}

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "weft-bench: %s\nRun with --help for usage.\n", message.c_str());
    std::exit(exit_usage);
}

std::string describe_current_exception() {
    try {
        throw;
    } catch (const std::exception& e) {
        return e.what();
    } catch (const weft::cancelled_error& e) {
        return "cancelled_error " + e.message();
    } catch (...) {
        return "unknown exception";
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "weft-bench: the workloads of peers/SPEC.md on weft. Result lines (SPEC's format, "
        "peer=weft) or JSON on stdout; progress and a table on stderr.\n"
        "Exit status: 0 done, 1 wrong result or failure, 2 bad usage, 3 the thread count asks "
        "for a mode that is not available yet.",
        "weft-bench"};
    int threads = weft::cli::hardware_threads();
    weft::cli::add_threads(app, threads);
    weft::scheduling_model model = weft::scheduling_model::automatic;
    weft::cli::add_model(app, model);
    weft::io_backend io = weft::io_backend::automatic;
    weft::cli::add_io(app, io);
    std::string bench = "all";
    app.add_option("--bench", bench, "workload to run, or all (" + known_names() + ")")
        ->check(CLI::Validator(
            [](std::string& name) -> std::string {
                if (name == "all" || find_workload(name) != nullptr) return {};
                return "unknown workload '" + name + "' (known: " + known_names() + ")";
            },
            "NAME|all"));
    sizes size;
    app.add_option("--n", size.n,
                   "override the main size: N tasks, fib's n, skynet's leaves (a power of 10), "
                   "yield_many's T, ping_pong's P, executor_rtt's and process_rtt's K")
        ->check(weft::cli::whole_number(1L, std::numeric_limits<long>::max()));
    app.add_option("--m", size.m,
                   "override M (yield_many's yields per task, ping_pong's round trips)")
        ->check(weft::cli::whole_number(1L, std::numeric_limits<long>::max()));
    app.add_option("--port", size.port, "echo: the TCP port to serve on, 127.0.0.1 (0: any)")
        ->check(weft::cli::whole_number(0, 65535));
    double blocking_threshold_ms = 10;
    app.add_option("--blocking-threshold-ms", blocking_threshold_ms,
                   "Go mode: a step blocked this long has its worker's loop handed to another "
                   "thread (run_options::blocking_threshold); 0 turns the monitor off")
        ->check(weft::cli::number(0.0, 60000.0));
    bool json = false, list = false, quiet = false;
    app.add_flag("--json", json, "print one JSON document on stdout instead of result lines");
    app.add_flag("--list", list,
                 "list the workloads and whether weft can run them at --threads; run nothing");
    app.add_flag("-q,--quiet", quiet, "no progress or table on stderr (errors only)");
    weft::cli::parse(app, argc, argv);

    std::vector<const workload*> selected = select(bench);
    for (const workload* w : selected) {
        if (w->validate == nullptr || !w->available()) continue;
        if (std::string err = w->validate(size); !err.empty()) usage_error(err);
    }

    // The runtime, once for every workload (as Go and Tokio run all their
    // benches on one runtime). Its constructor is where weft says whether it
    // has the requested mode.
    std::unique_ptr<weft::runner> runtime;
    std::string mode_missing;
    try {
        runtime = std::make_unique<weft::runner>(weft::run_options{
            .threads = threads,
            .model = model,
            .io = io,
            .blocking_threshold =
                std::chrono::nanoseconds(static_cast<std::int64_t>(blocking_threshold_ms * 1e6))});
    } catch (const weft::configuration_error& e) {
        usage_error(e.what());  // e.g. --model asyncio with --threads 2
    } catch (const std::invalid_argument& e) {
        mode_missing = e.what();
    }

    const bool go_model = runtime ? runtime->model() == weft::scheduling_model::go
                                  : model == weft::scheduling_model::go || threads > 1;
    output out(threads, go_model, json, quiet, isatty(STDERR_FILENO) != 0);
    if (list) {
        out.print_list(workloads(), mode_missing);
        return 0;
    }
    if (!mode_missing.empty()) {
        std::fprintf(stderr,
                     "weft-bench: --threads %d is not available yet: %s\n"
                     "weft-bench: nothing was measured; run with --threads 1 (asyncio mode).\n",
                     threads, mode_missing.c_str());
        return exit_mode_not_available;
    }

    std::vector<const workload*> runnable;
    for (const workload* w : selected) {
        if (w->available()) {
            runnable.push_back(w);
        } else {
            out.not_available(*w);
        }
    }
    out.start(runnable.size());
    int status = 0;
    for (const workload* w : runnable) {
        out.begin(*w, size);
        auto t0 = bench_clock::now();
        try {
            report r = runtime->run(w->run(size));
            out.done(*w, std::move(r), seconds_since(t0));
        } catch (const wrong_result& e) {
            out.failed(*w);
            std::fprintf(stderr, "weft-bench: WRONG RESULT: %s\n", e.what());
            status = exit_wrong_result;
            break;
        } catch (...) {
            out.failed(*w);
            std::fprintf(stderr, "weft-bench: %s failed: %s\n", std::string(w->name).c_str(),
                         describe_current_exception().c_str());
            status = exit_wrong_result;
            break;
        }
    }
    runtime->close();
    out.finish();  // the table (stderr), then the results (stdout), of what completed
    return status;
}
