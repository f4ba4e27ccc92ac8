// The workloads of bench/peers/SPEC.md as weft-bench runs them: what a
// workload is (a task that measures itself and checks its own result), the
// registry that lists them, and the helpers they share (clock, RSS, checks).
//
// A workload weft cannot run yet (it needs weft::queue, run_in_executor or the
// I/O server) is still registered, with `run` left null and `missing` saying
// what it waits for; adding it later is one file and one line in registry.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <weft/task.hpp>

namespace weft_bench {

// Size overrides from --n / --m; 0 means "the workload's SPEC default".
struct sizes {
    long n = 0;
    long m = 0;
    int port = 7001;  // echo: the TCP port to serve on (--port), as the peers
};

// One result line: SPEC's `value=<value> unit=<unit>`.
struct measurement {
    double value;
    std::string unit;
};

// What a workload run reports: SPEC's `n=` field and its measurements, in the
// order they are printed (the first is the headline number).
struct report {
    std::string n;
    std::vector<measurement> results;
};

// Thrown by a workload whose result is wrong (a sum, a count): weft-bench
// prints the message and exits 1, as the peers do.
class wrong_result : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline void check(bool ok, const std::string& what) {
    if (!ok) throw wrong_result(what);
}

struct workload {
    std::string_view name;
    std::string_view summary;  // one line, for --list and the docs
    long default_n;
    long default_m;  // 0: the workload has no M
    // The workload, run as the main task of the runtime; null while weft lacks
    // what it needs.
    weft::task<report> (*run)(sizes);
    // Why `run` is null ("needs weft::queue ...").
    std::string_view missing = {};
    // Extra size rules beyond n >= 1 and m >= 1: an error message, or empty.
    std::string (*validate)(const sizes&) = nullptr;
    // Part of `--bench all` (echo is a server, driven from outside).
    bool in_all = true;

    bool available() const noexcept { return run != nullptr; }
};

// Every SPEC workload, in the order `--bench all` runs them.
std::span<const workload> workloads();
const workload* find_workload(std::string_view name);

// ---- helpers shared by the workloads

using bench_clock = std::chrono::steady_clock;

inline double seconds_since(bench_clock::time_point t0) {
    return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

// The resident set size of this process, in bytes (/proc/self/statm).
std::int64_t resident_bytes();
// The resident pages not backed by a file (heap, stacks, mmapped pools).
std::int64_t anonymous_bytes();

// SPEC's timer delays: 64-bit MMIX LCG, seed 42, delay = (x >> 33) % 1000 ms.
std::vector<int> lcg_delays_ms(long n);

// Resolves a size: the override when given, else the default.
inline long pick(long override_value, long default_value) {
    return override_value > 0 ? override_value : default_value;
}

}  // namespace weft_bench
