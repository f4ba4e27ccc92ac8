// The frame allocator (weft/detail/frame_allocator.hpp) against the general
// allocator, for the sizes typical coroutine frames have.
#include <cstddef>
#include <new>
#include <vector>

#include <weft/detail/frame_allocator.hpp>

#include "micro.hpp"

namespace {

// One allocate + free of the same size: the steady state of spawn/complete.
void BM_frame_pool_alloc_free(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        void* p = weft::detail::pool_allocate(size);
        benchmark::DoNotOptimize(p);
        weft::detail::pool_deallocate(p, size);
    }
}
BENCHMARK(BM_frame_pool_alloc_free)->Arg(64)->Arg(192)->Arg(512);

void BM_operator_new_delete(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        void* p = ::operator new(size);
        benchmark::DoNotOptimize(p);
        ::operator delete(p, size);
    }
}
BENCHMARK(BM_operator_new_delete)->Arg(64)->Arg(192)->Arg(512);

// A burst: allocate `count` frames, then free them all (many tasks alive at
// once, as in spawn_many). Beyond the per-thread list limit this exercises
// the spill to and refill from the shared depot.
void BM_frame_pool_burst(benchmark::State& state) {
    constexpr std::size_t size = 192;
    const auto count = static_cast<std::size_t>(state.range(0));
    std::vector<void*> ptrs(count);
    for (auto _ : state) {
        for (auto& p : ptrs)
            p = weft::detail::pool_allocate(size);
        benchmark::DoNotOptimize(ptrs.data());
        for (void* p : ptrs)
            weft::detail::pool_deallocate(p, size);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_frame_pool_burst)->Arg(1000)->Arg(100'000);

void BM_operator_new_burst(benchmark::State& state) {
    constexpr std::size_t size = 192;
    const auto count = static_cast<std::size_t>(state.range(0));
    std::vector<void*> ptrs(count);
    for (auto _ : state) {
        for (auto& p : ptrs)
            p = ::operator new(size);
        benchmark::DoNotOptimize(ptrs.data());
        for (void* p : ptrs)
            ::operator delete(p, size);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_operator_new_burst)->Arg(1000)->Arg(100'000);

}  // namespace
