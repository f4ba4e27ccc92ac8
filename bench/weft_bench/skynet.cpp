// skynet: a 10-ary tree of tasks, depth 6; each node spawns its 10 children
// and awaits their handles, the 1,000,000 leaves return their index, and the
// sum is checked against 499999500000 (SPEC: ms).
#include <array>
#include <cstdint>
#include <string>

#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

weft::task<std::uint64_t> skynet(std::uint64_t num, std::uint64_t size) {
    if (size == 1) co_return num;
    const std::uint64_t sub = size / 10;
    std::array<weft::task_handle<std::uint64_t>, 10> children;
    for (std::uint64_t i = 0; i < 10; ++i)
        children[i] = weft::create_task(skynet(num + i * sub, sub));
    std::uint64_t sum = 0;
    for (auto& child : children)
        sum += co_await child;
    co_return sum;
}

}  // namespace

std::string validate_skynet(const sizes& s) {
    long k = s.n;  // 0: the default, 1,000,000
    while (k >= 10 && k % 10 == 0)
        k /= 10;
    if (k <= 1) return {};
    return "skynet: --n (leaves) must be a power of 10, got " + std::to_string(s.n);
}

weft::task<report> run_skynet(sizes s) {
    const auto leaves = static_cast<std::uint64_t>(pick(s.n, 1'000'000));
    auto t0 = bench_clock::now();
    // The root is a task too, as in the other peers.
    std::uint64_t sum = co_await weft::create_task(skynet(0, leaves));
    double wall = seconds_since(t0);
    std::uint64_t want = leaves * (leaves - 1) / 2;
    check(sum == want, "skynet: sum=" + std::to_string(sum) + " want " + std::to_string(want));
    co_return report{std::to_string(leaves), {{wall * 1e3, "ms"}}};
}

}  // namespace weft_bench
