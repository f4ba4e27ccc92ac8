// Size-class recycling allocator for coroutine frames and other small runtime
// objects (futures, callback handles, timers). Each thread keeps a free list
// per 16-byte size class; a free goes to the freeing thread's list, so a spawn
// in steady state is a pop and a completion is a push: no lock, no malloc.
// A list that grows past `pool_list_limit` spills half to a shared depot (one
// mutex, taken once per batch), which is also where the lists of an exiting
// thread go, and where an empty list refills from before carving new memory.
//
// Under a sanitizer every call goes straight to operator new/delete, so that
// use-after-free and leaks in frames are reported as usual.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

#include <weft/detail/config.hpp>

namespace weft::detail {

// Objects above this size skip the pool: frames that large are rare and the
// general allocator serves them well.
inline constexpr std::size_t pool_max_size = 1024;
inline constexpr std::size_t pool_granule = 16;
inline constexpr std::size_t pool_classes = pool_max_size / pool_granule;
// Free objects one thread keeps per class before spilling half to the depot:
// enough to absorb a burst of completions, small enough that a thread that
// only frees (a consumer) hands memory back quickly.
inline constexpr std::uint32_t pool_list_limit = 1024;

struct pool_free_node {
    pool_free_node* next;
};

// One thread's free lists. Plain data in `__thread` storage so the fast paths
// compile to a few instructions with no TLS-wrapper call.
struct pool_cache {
    pool_free_node* head[pool_classes];
    std::uint32_t count[pool_classes];
    char* bump;  // carving region for classes whose lists and depot are empty
    char* bump_end;
    std::uint32_t state;  // pool_state_*
};
inline constexpr std::uint32_t pool_state_fresh = 0;   // never used by this thread
inline constexpr std::uint32_t pool_state_active = 1;  // exit hook registered
inline constexpr std::uint32_t pool_state_dead = 2;    // thread exiting: go to the depot

extern __thread pool_cache tls_pool;

void* pool_allocate_slow(std::size_t size);
void pool_deallocate_slow(void* p, std::size_t size) noexcept;

// ::operator delete(p, size) where the compiler has sized deallocation: Clang
// before 19 leaves it off unless given -fsized-deallocation, and libstdc++
// then does not declare the sized form. The unsized one frees the same memory.
inline void global_delete(void* p, [[maybe_unused]] std::size_t size) noexcept {
#if defined(__cpp_sized_deallocation)
    ::operator delete(p, size);
#else
    ::operator delete(p);
#endif
}

inline void* pool_allocate(std::size_t size) {
#if WEFT_SANITIZED
    return ::operator new(size);
#else
    if (WEFT_UNLIKELY(size > pool_max_size || size == 0)) return ::operator new(size);
    std::size_t cls = (size - 1) / pool_granule;
    pool_cache& c = tls_pool;
    if (pool_free_node* n = c.head[cls]; WEFT_LIKELY(n != nullptr)) {
        c.head[cls] = n->next;
        --c.count[cls];
        return n;
    }
    return pool_allocate_slow(size);
#endif
}

inline void pool_deallocate(void* p, std::size_t size) noexcept {
#if WEFT_SANITIZED
    global_delete(p, size);
#else
    if (WEFT_UNLIKELY(size > pool_max_size || size == 0)) return global_delete(p, size);
    std::size_t cls = (size - 1) / pool_granule;
    pool_cache& c = tls_pool;
    if (WEFT_LIKELY(c.count[cls] < pool_list_limit && c.state == pool_state_active)) {
        auto* n = static_cast<pool_free_node*>(p);
        n->next = c.head[cls];
        c.head[cls] = n;
        ++c.count[cls];
        return;
    }
    pool_deallocate_slow(p, size);
#endif
}

// Bytes the pool has obtained from the system so far, all threads together
// (never returned: freed objects are kept for reuse).
std::size_t pool_reserved_bytes() noexcept;

// Mix-in giving a class pooled operator new/delete.
struct pooled {
    static void* operator new(std::size_t size) { return pool_allocate(size); }
    static void operator delete(void* p, std::size_t size) noexcept { pool_deallocate(p, size); }
};

}  // namespace weft::detail
