// The worker-thread count: its one limit and its one parser, shared by the
// `--threads` flag (weft/cli.hpp), the WEFT_THREADS environment variable and
// run_options::threads, and the default a program gets from the machine it
// is given.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include <weft/errors.hpp>

namespace weft {

// More worker threads than this is taken for a typo.
inline constexpr int max_threads = 4096;

// Parses `text` as a worker-thread count: a whole number from 1 to
// max_threads, in decimal, with nothing before or after it. Raises
// configuration_error naming `source` (say "--threads" or "WEFT_THREADS")
// and `text` as given, also when the number overflows.
int parse_thread_count(std::string_view text, std::string_view source);

// Checks a thread count given as a number: returns `n` when it is from 1 to
// max_threads, else raises configuration_error naming `source` and `n`.
int check_thread_count(long long n, std::string_view source);

// How many threads this process can run at once: the CPUs in its affinity
// mask (sched_getaffinity, as `taskset` sets it), capped by the cgroup v2 CPU
// quota of its cgroup (cpu.max, quota / period rounded up, so 1.5 CPUs count
// as 2; "max" is no limit), the smallest over the cgroup and its ancestors.
// At least 1. Go's default GOMAXPROCS and Rust's
// std::thread::available_parallelism count the same way. Programs that want
// one worker per CPU take this (weft::cli::hardware_threads caps it at
// max_threads); weft::run's own default stays 1 thread.
int available_parallelism();

// The same, reading /proc/self/cgroup, /proc/self/mountinfo and the cgroup
// file system under `root` instead of "/" (tests build a fake tree there).
// The affinity mask is always the calling thread's.
int available_parallelism(const std::filesystem::path& root);

// The cgroup v2 CPU limit alone, read under `root` as above: the whole CPUs
// that cpu.max grants the process's cgroup, the smallest over it and its
// ancestors up to the cgroup2 mount. Empty when there is no limit, no
// cgroup2 mount, or nothing readable: a missing or malformed cpu.max is
// skipped, not taken for a limit.
std::optional<int> cgroup_cpu_limit(const std::filesystem::path& root = "/");

}  // namespace weft
