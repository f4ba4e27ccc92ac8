// Size-class recycling allocator for coroutine frames and other small runtime
// objects (futures, callback handles, timers). Each thread keeps a free list
// per 8-byte size class; a free goes to the freeing thread's list, so a spawn
// in steady state is a pop and a completion is a push: no lock, no malloc.
// A list that grows past `pool_list_limit` spills half to a shared depot (one
// mutex, taken once per batch), which is also where the lists of an exiting
// thread go, and where an empty list refills from before carving new memory.
//
// Memory comes from the system in 64 KiB chunks (mmap, aligned to their size,
// so an object's chunk is its address with the low bits cleared). Objects of
// any class are carved from a thread's current chunk; when it moves on to a
// new chunk the old one is *retired*: the bytes carved from it are final.
// Nothing on the fast paths counts per chunk. Instead, trimming (weft::trim(),
// weft/memory.hpp, or a loop that has gone idle) takes the depot's lists,
// counts their objects per chunk, and unmaps every retired chunk whose carved
// bytes are all on those lists, except `pool_reserve_bytes` of such chunks
// (the warm reserve), so that a steady workload does not map and unmap over
// and over.
//
// Going idle (pool_idle, called by a loop that is about to block) hands the
// thread's own lists and chunk to the depot, at most once per idle period,
// and unmaps what the depot has held unused for a whole period: at most the
// period's low-water mark of the depot's free bytes. A loop with
// something left to hand in or trim waits at most until it is due.
//
// Under a sanitizer pool_allocate/pool_deallocate go straight to operator
// new/delete, so that use-after-free and leaks in frames are reported as
// usual; the pool itself (pool_take/pool_put) is still built, and the stress
// tests drive it directly under ThreadSanitizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

#include <weft/detail/config.hpp>

namespace weft::detail {

// Objects above this size skip the pool: frames that large are rare and the
// general allocator serves them well.
inline constexpr std::size_t pool_max_size = 1024;
// 8-byte classes: a frame of 168 bytes takes 168, not 176. Objects whose size
// is a multiple of 16 still get 16-byte alignment (see pool_allocate_slow).
inline constexpr std::size_t pool_granule = 8;
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
    std::uint32_t state;     // pool_state_*
    std::int64_t handed_in;  // steady-clock ns when pool_idle last emptied this cache
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

// The pool itself, whatever the build: a pop from this thread's list, else
// the slow path.
inline void* pool_take(std::size_t size) {
    if (WEFT_UNLIKELY(size > pool_max_size || size == 0)) return ::operator new(size);
    std::size_t cls = (size - 1) / pool_granule;
    pool_cache& c = tls_pool;
    if (pool_free_node* n = c.head[cls]; WEFT_LIKELY(n != nullptr)) {
        c.head[cls] = n->next;
        --c.count[cls];
        return n;
    }
    return pool_allocate_slow(size);
}

inline void pool_put(void* p, std::size_t size) noexcept {
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
}

inline void* pool_allocate(std::size_t size) {
#if WEFT_SANITIZED
    return ::operator new(size);
#else
    return pool_take(size);
#endif
}

inline void pool_deallocate(void* p, std::size_t size) noexcept {
#if WEFT_SANITIZED
    global_delete(p, size);
#else
    pool_put(p, size);
#endif
}

// Chunks are this large and aligned to it.
inline constexpr std::size_t pool_chunk_bytes = 64 * 1024;
// Bytes of wholly free chunks a trim keeps (the warm reserve).
inline constexpr std::size_t pool_reserve_bytes = 1024 * 1024;
// How long memory must sit unused before an idle loop returns it, by default.
inline constexpr std::int64_t pool_default_idle_period_ns = 1'000'000'000;

// Bytes the pool has mapped and not returned, all threads together.
std::size_t pool_reserved_bytes() noexcept;

// A loop is about to block for `timeout_ns` (-1: until woken). Hands this
// thread's lists to the depot and trims the depot when they are due (see the
// top of the file); returns the timeout to use, shortened to when the next
// of those is due. Never throws; cheap when there is nothing to do (a few
// loads), and only ever called off the hot paths.
std::int64_t pool_idle(std::int64_t timeout_ns) noexcept;

// Hands this thread's lists and chunk to the depot, then unmaps every chunk
// whose objects are all free, but for the reserve. Returns the bytes unmapped.
std::size_t pool_trim() noexcept;

// The idle period (tests shorten it); <= 0 restores the default.
void pool_set_idle_period(std::int64_t ns) noexcept;

struct pool_statistics {
    std::size_t held_bytes;      // mapped and not returned
    std::size_t depot_bytes;     // free objects on the depot's lists
    std::size_t returned_bytes;  // unmapped so far, in total
};
pool_statistics pool_stats() noexcept;

// Mix-in giving a class pooled operator new/delete.
struct pooled {
    static void* operator new(std::size_t size) { return pool_allocate(size); }
    static void operator delete(void* p, std::size_t size) noexcept { pool_deallocate(p, size); }
};

}  // namespace weft::detail
