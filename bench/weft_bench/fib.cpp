// fib: fork-join Fibonacci. Each call with n >= 2 spawns fib(n-1) as a task,
// computes fib(n-2) inline (a plain co_await of the lazy task), then awaits
// the spawned one (SPEC: ns/task = wall / spawned tasks, and ms).
#include <cstdint>
#include <string>

#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

weft::task<std::uint64_t> fib(int n) {
    if (n < 2) co_return static_cast<std::uint64_t>(n);
    auto a = weft::create_task(fib(n - 1));
    std::uint64_t b = co_await fib(n - 2);
    co_return co_await a + b;
}

}  // namespace

std::string validate_fib(const sizes& s) {
    // fib(n) must fit in 64 bits, and fib(n+1) tasks must finish this century.
    if (s.n > 60) return "fib: --n must be at most 60, got " + std::to_string(s.n);
    return {};
}

weft::task<report> run_fib(sizes s) {
    const int n = static_cast<int>(pick(s.n, 30));
    auto t0 = bench_clock::now();
    std::uint64_t got = co_await fib(n);
    double wall = seconds_since(t0);

    std::uint64_t want = 0, next = 1;  // fib(n), fib(n+1)
    for (int i = 0; i < n; ++i) {
        std::uint64_t t = want + next;
        want = next;
        next = t;
    }
    check(got == want, "fib(" + std::to_string(n) + ")=" + std::to_string(got) + " want " +
                           std::to_string(want));
    // Calls with n >= 2 spawn one task each: S(n) = fib(n+1) - 1 (at least 1,
    // so that a tiny --n still prints a number).
    double spawned = next > 1 ? static_cast<double>(next - 1) : 1.0;
    co_return report{std::to_string(n), {{wall * 1e9 / spawned, "ns/task"}, {wall * 1e3, "ms"}}};
}

}  // namespace weft_bench
