// The slow paths of the frame allocator: refilling from the depot or carving
// new memory, spilling to the depot, handing a thread's lists back when it
// exits or goes idle, and trimming (returning chunks whose objects are all
// free). See detail/frame_allocator.hpp for the design.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include <malloc.h>
#include <sys/mman.h>

#include <weft/detail/frame_allocator.hpp>
#include <weft/memory.hpp>

namespace weft::detail {

__thread pool_cache tls_pool;

namespace {

constexpr std::uintptr_t chunk_mask = pool_chunk_bytes - 1;
// Objects moved between a thread and the depot at a time.
constexpr std::uint32_t batch_size = pool_list_limit / 2;

constexpr std::size_t class_bytes(std::size_t cls) {
    return (cls + 1) * pool_granule;
}

std::uintptr_t chunk_of(const void* p) {
    return reinterpret_cast<std::uintptr_t>(p) & ~chunk_mask;
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct batch {
    pool_free_node* head;
    pool_free_node* tail;
    std::uint32_t count;
};

// What the depot knows of a chunk. `carved` is final once `retired` (the
// thread carving it has moved on), and from then on each of those bytes is
// an object in use or on some free list.
struct chunk_info {
    std::uint32_t carved = 0;
    bool retired = false;
};

struct depot {
    std::mutex mutex;
    // Guarded by `mutex`.
    std::vector<batch> lists[pool_classes];
    std::unordered_map<std::uintptr_t, chunk_info> chunks;
    std::size_t low_bytes = 0;  // the least free_bytes has been since period_start
    // Written under `mutex` (so exact there); the idle check reads them
    // without it, relaxed, as hints: a stale value only makes a check early
    // or late by one call.
    std::atomic<std::size_t> free_bytes{0};  // objects on `lists`
    std::atomic<bool> pending{false};        // objects arrived since a trim looked at them all
    std::atomic<std::int64_t> period_start{0};
    // Statistics only.
    std::atomic<std::size_t> held{0};
    std::atomic<std::size_t> returned{0};
    // One trim at a time: a trim owns the lists it took and the chunks it unmaps.
    std::mutex trim_mutex;
    std::atomic<std::int64_t> idle_period{pool_default_idle_period_ns};
};

depot& the_depot() {
    // Leaked on purpose: threads may free frames during static destruction.
    static depot* d = new depot;
    return *d;
}

// Caller holds d.mutex.
void push_locked(depot& d, std::size_t cls, batch b) {
    d.lists[cls].push_back(b);
    d.free_bytes.store(d.free_bytes.load(std::memory_order_relaxed) + b.count * class_bytes(cls),
                       std::memory_order_relaxed);
    d.pending.store(true, std::memory_order_relaxed);
}

void give_back(std::size_t cls, pool_free_node* head, pool_free_node* tail, std::uint32_t n) {
    depot& d = the_depot();
    std::lock_guard lock(d.mutex);
    push_locked(d, cls, batch{head, tail, n});
}

// Caller holds d.mutex. The thread stops carving from its chunk, which makes
// the chunk's carved bytes final; the rest of the chunk is never used.
void retire_chunk_locked(depot& d, pool_cache& c) {
    if (c.bump_end == nullptr) return;
    char* base = c.bump_end - pool_chunk_bytes;
    auto it = d.chunks.find(reinterpret_cast<std::uintptr_t>(base));
    if (it != d.chunks.end()) {
        it->second.carved = static_cast<std::uint32_t>(c.bump - base);
        it->second.retired = true;
    }
    c.bump = c.bump_end = nullptr;
}

// Hands every list of this thread and its chunk to the depot.
void flush_thread_cache() noexcept {
    pool_cache& c = tls_pool;
    batch out[pool_classes];
    for (std::size_t cls = 0; cls < pool_classes; ++cls) {
        pool_free_node* head = c.head[cls];
        out[cls] = batch{head, head, c.count[cls]};
        if (head == nullptr) continue;
        while (out[cls].tail->next != nullptr)
            out[cls].tail = out[cls].tail->next;
    }
    depot& d = the_depot();
    std::lock_guard lock(d.mutex);
    for (std::size_t cls = 0; cls < pool_classes; ++cls) {
        if (out[cls].head == nullptr) continue;
        // Only a failure to grow the depot's vector can throw here; the lists
        // then stay with the thread, which is still correct.
        try {
            push_locked(d, cls, out[cls]);
        } catch (const std::bad_alloc&) {
            continue;
        }
        c.head[cls] = nullptr;
        c.count[cls] = 0;
    }
    retire_chunk_locked(d, c);
}

struct thread_exit_hook {
    ~thread_exit_hook() {
        flush_thread_cache();
        tls_pool.state = pool_state_dead;
    }
};

void activate_this_thread() {
    static thread_local thread_exit_hook hook;
    (void)&hook;  // odr-use: constructs it, registering the destructor
    tls_pool.state = pool_state_active;
}

// Faults a fresh chunk's pages in with one call: it is carved from at once,
// object by object, and a fault per 4 KiB page costs more than the whole
// batch (each is a trap, and on a virtual machine an exit to the host).
// Best effort: kernels before 5.14 lack MADV_POPULATE_WRITE, and the pages
// then fault in one by one as before.
char* populated(char* chunk) {
#ifdef MADV_POPULATE_WRITE
    (void)::madvise(chunk, pool_chunk_bytes, MADV_POPULATE_WRITE);
#endif
    return chunk;
}

// A fresh chunk, aligned to its size, its pages already faulted in.
char* map_chunk() {
    constexpr int prot = PROT_READ | PROT_WRITE;
    constexpr int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    void* p = ::mmap(nullptr, pool_chunk_bytes, prot, flags, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    // The kernel usually places a mapping right below the previous one, so
    // once one chunk is aligned the following ones are too.
    if ((reinterpret_cast<std::uintptr_t>(p) & chunk_mask) == 0)
        return populated(static_cast<char*>(p));
    ::munmap(p, pool_chunk_bytes);
    p = ::mmap(nullptr, 2 * pool_chunk_bytes, prot, flags, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    auto start = reinterpret_cast<std::uintptr_t>(p);
    std::uintptr_t aligned = (start + chunk_mask) & ~chunk_mask;
    if (aligned > start) ::munmap(p, aligned - start);
    std::uintptr_t end = start + 2 * pool_chunk_bytes;
    if (end > aligned + pool_chunk_bytes)
        ::munmap(reinterpret_cast<void*>(aligned + pool_chunk_bytes),
                 end - (aligned + pool_chunk_bytes));
    return populated(reinterpret_cast<char*>(aligned));
}

// Unmaps chunks (sorted), one call per run of neighbours.
void unmap_chunks(const std::vector<std::uintptr_t>& bases) {
    for (std::size_t i = 0; i < bases.size();) {
        std::size_t j = i + 1;
        while (j < bases.size() && bases[j] == bases[j - 1] + pool_chunk_bytes)
            ++j;
        ::munmap(reinterpret_cast<void*>(bases[i]), (j - i) * pool_chunk_bytes);
        i = j;
    }
}

struct chunk_tally {
    std::uintptr_t base;
    std::size_t carved;
    std::size_t free = 0;
    bool release = false;
};

// A free object that a trim keeps, with what orders it (see trim_depot).
struct kept_object {
    std::size_t chunk_free;  // free bytes of its chunk; 0 outside retired chunks
    std::uintptr_t chunk;
    pool_free_node* node;
};

// Drops the objects of released chunks from `lists`, in place, batch by batch.
template <class Find>
void unlink_released(std::vector<batch>& lists, Find& find) {
    std::size_t out = 0;
    for (const batch& b : lists) {
        batch k{nullptr, nullptr, 0};
        for (pool_free_node* n = b.head; n != nullptr;) {
            pool_free_node* next = n->next;
            const chunk_tally* t = find(n);
            if (t == nullptr || !t->release) {
                n->next = nullptr;
                if (k.tail != nullptr)
                    k.tail->next = n;
                else
                    k.head = n;
                k.tail = n;
                ++k.count;
            }
            n = next;
        }
        if (k.count > 0) lists[out++] = k;
    }
    lists.resize(out);
}

// Unmaps retired chunks whose objects are all on the depot's lists, except
// the warm reserve (that many bytes of such chunks stay), taking at most
// `limit_of_free` free bytes off the lists. Caller holds trim_mutex.
//
// The lists are taken out of the depot while they are counted, so that other
// threads are not held up; meanwhile they find the depot empty and carve.
std::size_t trim_depot(depot& d, std::size_t limit_of_free, bool idle) {
    std::vector<chunk_tally> tally;
    std::vector<std::uintptr_t> release;
    std::vector<batch> taken[pool_classes];
    {
        std::lock_guard lock(d.mutex);
        std::size_t fb = d.free_bytes.load(std::memory_order_relaxed);
        if (idle) {
            d.period_start.store(now_ns(), std::memory_order_relaxed);
            d.low_bytes = fb;
        }
        // Once a trim has looked at every free byte, what it leaves is
        // pinned by objects in use (or is the reserve): nothing is pending
        // until more arrives.
        if (limit_of_free >= fb) d.pending.store(false, std::memory_order_relaxed);
        limit_of_free = std::min(fb, limit_of_free);
        if (limit_of_free == 0) return 0;
        try {
            tally.reserve(d.chunks.size());
            for (const auto& [base, info] : d.chunks)
                if (info.retired) tally.push_back(chunk_tally{base, info.carved});
            release.reserve(tally.size());
        } catch (const std::bad_alloc&) {
            return 0;
        }
        for (std::size_t cls = 0; cls < pool_classes; ++cls)
            taken[cls].swap(d.lists[cls]);
        d.free_bytes.store(0, std::memory_order_relaxed);
    }
    std::sort(tally.begin(), tally.end(),
              [](const chunk_tally& a, const chunk_tally& b) { return a.base < b.base; });
    auto find = [&tally](const void* p) -> chunk_tally* {
        std::uintptr_t base = chunk_of(p);
        auto it =
            std::lower_bound(tally.begin(), tally.end(), base,
                             [](const chunk_tally& t, std::uintptr_t b) { return t.base < b; });
        return it != tally.end() && it->base == base ? &*it : nullptr;
    };

    // Count the free bytes of each retired chunk. Objects of chunks that are
    // not retired, or that did not come from a chunk (a thread's last
    // allocations while it exits), count for nothing and stay.
    for (std::size_t cls = 0; cls < pool_classes; ++cls)
        for (const batch& b : taken[cls])
            for (pool_free_node* n = b.head; n != nullptr; n = n->next)
                if (chunk_tally* t = find(n)) t->free += class_bytes(cls);
    std::size_t keep = pool_reserve_bytes / pool_chunk_bytes;
    std::size_t freed_bytes = 0;
    for (chunk_tally& t : tally) {
        if (t.free != t.carved) continue;
        if (keep > 0) {
            --keep;
            continue;
        }
        if (freed_bytes + t.free > limit_of_free) continue;
        t.release = true;
        freed_bytes += t.free;
        release.push_back(t.base);
    }

    // Rebatch what stays so that refills, which pop from the back, take the
    // objects of the fullest chunks first and leave mostly free chunks alone
    // until they are wholly free. In Go mode frees land on whichever worker
    // completes a task, so a batch otherwise mixes objects of many chunks and
    // one refill pins them all. The released chunks' objects are dropped on
    // the way. Objects outside retired chunks count as in a full chunk.
    std::size_t kept_bytes = 0;
    for (std::size_t cls = 0; cls < pool_classes; ++cls) {
        std::size_t objects = 0;
        for (const batch& b : taken[cls])
            objects += b.count;
        if (objects == 0) continue;
        std::vector<kept_object> kept;
        try {
            kept.reserve(objects);
            taken[cls].reserve(objects / batch_size + 1);
        } catch (const std::bad_alloc&) {
            unlink_released(taken[cls], find);  // no room to sort: unlink in place
            continue;
        }
        for (const batch& b : taken[cls])
            for (pool_free_node* n = b.head; n != nullptr; n = n->next) {
                const chunk_tally* t = find(n);
                if (t != nullptr && t->release) continue;
                kept.push_back(kept_object{t != nullptr ? t->free : 0, chunk_of(n), n});
            }
        std::sort(kept.begin(), kept.end(), [](const kept_object& a, const kept_object& b) {
            if (a.chunk_free != b.chunk_free) return a.chunk_free > b.chunk_free;
            return a.chunk != b.chunk ? a.chunk < b.chunk : a.node < b.node;
        });
        taken[cls].clear();  // capacity reserved above: the pushes cannot throw
        // The short batch, if any, goes first (popped last): every refill
        // until then takes a whole batch from the fullest chunks.
        std::size_t first = kept.size() % batch_size;
        for (std::size_t i = 0, last = first != 0 ? first : batch_size; i < kept.size();
             i = last, last += batch_size) {
            for (std::size_t k = i; k + 1 < last; ++k)
                kept[k].node->next = kept[k + 1].node;
            kept[last - 1].node->next = nullptr;
            taken[cls].push_back(
                batch{kept[i].node, kept[last - 1].node, static_cast<std::uint32_t>(last - i)});
        }
    }
    if (!release.empty()) unmap_chunks(release);
    for (std::size_t cls = 0; cls < pool_classes; ++cls)
        for (const batch& b : taken[cls])
            kept_bytes += b.count * class_bytes(cls);

    {
        std::lock_guard lock(d.mutex);
        for (std::uintptr_t base : release)
            d.chunks.erase(base);
        for (std::size_t cls = 0; cls < pool_classes; ++cls) {
            // Whatever arrived meanwhile goes after what was there before.
            auto& lists = d.lists[cls];
            if (lists.empty()) {
                lists.swap(taken[cls]);
            } else {
                // Cannot leave memory behind: on failure to grow, link each
                // taken batch onto the first list instead.
                try {
                    lists.insert(lists.begin(), taken[cls].begin(), taken[cls].end());
                } catch (const std::bad_alloc&) {
                    batch& first = lists.front();
                    for (const batch& b : taken[cls]) {
                        b.tail->next = first.head;
                        first.head = b.head;
                        first.count += b.count;
                    }
                }
            }
        }
        std::size_t fb = d.free_bytes.load(std::memory_order_relaxed) + kept_bytes;
        d.free_bytes.store(fb, std::memory_order_relaxed);
        d.low_bytes = std::min(d.low_bytes, fb);
    }
    std::size_t bytes = release.size() * pool_chunk_bytes;
    d.held.fetch_sub(bytes, std::memory_order_relaxed);
    d.returned.fetch_add(bytes, std::memory_order_relaxed);
    return bytes;
}

bool holds_anything(const pool_cache& c) {
    if (c.bump_end != nullptr) return true;
    for (std::uint32_t n : c.count)
        if (n != 0) return true;
    return false;
}

}  // namespace

void* pool_allocate_slow(std::size_t size) {
    pool_cache& c = tls_pool;
    if (c.state == pool_state_fresh) activate_this_thread();
    std::size_t cls = (size - 1) / pool_granule;
    std::size_t rounded = class_bytes(cls);
    if (c.state == pool_state_active) {
        depot& d = the_depot();
        {
            std::lock_guard lock(d.mutex);
            auto& lists = d.lists[cls];
            if (!lists.empty()) {
                batch b = lists.back();
                lists.pop_back();
                std::size_t fb = d.free_bytes.load(std::memory_order_relaxed) - b.count * rounded;
                d.free_bytes.store(fb, std::memory_order_relaxed);
                d.low_bytes = std::min(d.low_bytes, fb);
                c.head[cls] = b.head->next;
                c.count[cls] = b.count - 1;
                return b.head;
            }
        }
        // An object whose size is a multiple of 16 may need 16-byte
        // alignment; one of an odd multiple of 8 cannot (a type's alignment
        // divides its size). After an odd one the next even one skips 8
        // bytes, which become an object of the 8-byte class rather than
        // waste: every carved byte is an object, as trimming counts them.
        const bool realign = rounded % 16 == 0 && (reinterpret_cast<std::uintptr_t>(c.bump) & 15);
        if (static_cast<std::size_t>(c.bump_end - c.bump) < rounded + (realign ? 8 : 0)) {
            char* fresh = map_chunk();
            try {
                std::lock_guard lock(d.mutex);
                d.chunks.emplace(reinterpret_cast<std::uintptr_t>(fresh), chunk_info{});
                retire_chunk_locked(d, c);
            } catch (...) {
                ::munmap(fresh, pool_chunk_bytes);
                throw;
            }
            d.held.fetch_add(pool_chunk_bytes, std::memory_order_relaxed);  // statistics only
            c.bump = fresh;
            c.bump_end = fresh + pool_chunk_bytes;
        } else if (realign) {
            void* sliver = c.bump;
            c.bump += pool_granule;
            pool_put(sliver, pool_granule);
        }
        void* p = c.bump;
        c.bump += rounded;
        return p;
    }
    // Thread being torn down: serve from the general allocator's sized path.
    return ::operator new(rounded);
}

void pool_deallocate_slow(void* p, std::size_t size) noexcept {
    pool_cache& c = tls_pool;
    std::size_t cls = (size - 1) / pool_granule;
    auto* n = static_cast<pool_free_node*>(p);
    if (c.state == pool_state_fresh) activate_this_thread();
    if (c.state == pool_state_dead) {
        n->next = nullptr;
        give_back(cls, n, n, 1);
        return;
    }
    // The list is full: keep this object, move the older half to the depot.
    n->next = c.head[cls];
    c.head[cls] = n;
    ++c.count[cls];
    if (c.count[cls] <= pool_list_limit) return;
    pool_free_node* head = c.head[cls];
    pool_free_node* tail = head;
    for (std::uint32_t i = 1; i < batch_size; ++i)
        tail = tail->next;
    c.head[cls] = tail->next;
    tail->next = nullptr;
    c.count[cls] -= batch_size;
    give_back(cls, head, tail, batch_size);
}

std::int64_t pool_idle(std::int64_t timeout_ns) noexcept {
    pool_cache& c = tls_pool;
    if (c.state == pool_state_dead) return timeout_ns;
    depot& d = the_depot();
    auto depot_due = [&d] {
        return d.pending.load(std::memory_order_relaxed) &&
               d.free_bytes.load(std::memory_order_relaxed) > pool_reserve_bytes;
    };
    bool mine = holds_anything(c);
    bool shared = depot_due();
    if (!mine && !shared) return timeout_ns;  // the common case: two loads and a scan

    const std::int64_t period = d.idle_period.load(std::memory_order_relaxed);
    const std::int64_t now = now_ns();
    std::int64_t due = std::numeric_limits<std::int64_t>::max();
    if (mine) {
        // At most once a period, so that a loop that goes idle often does
        // not keep emptying and refilling its lists.
        if (now - c.handed_in >= period || c.handed_in == 0) {
            flush_thread_cache();
            c.handed_in = now;
            shared = depot_due();
        } else {
            due = c.handed_in + period;
        }
    }
    if (shared) {
        std::int64_t start = d.period_start.load(std::memory_order_relaxed);
        if (now - start >= period) {
            std::unique_lock lock(d.trim_mutex, std::try_to_lock);
            if (lock.owns_lock()) {
                std::size_t low;
                {
                    std::lock_guard g(d.mutex);
                    low = d.low_bytes;
                }
                std::size_t released = trim_depot(d, low, true);
#ifdef __GLIBC__
                // A burst big enough to leave whole chunks idle also grew
                // malloc's arenas (queues, buffers); give their free pages
                // back in the same idle moment, as weft::trim() does.
                if (released != 0) ::malloc_trim(0);
#endif
                start = d.period_start.load(std::memory_order_relaxed);
            }
        }
        if (depot_due()) due = std::min(due, std::max(start + period, now + period / 8));
    }
    if (due == std::numeric_limits<std::int64_t>::max()) return timeout_ns;
    std::int64_t wait = std::max<std::int64_t>(due - now, period / 8);
    return timeout_ns < 0 ? wait : std::min(timeout_ns, wait);
}

std::size_t pool_trim() noexcept {
    pool_cache& c = tls_pool;
    if (c.state != pool_state_dead) {
        flush_thread_cache();
        c.handed_in = now_ns();
    }
    depot& d = the_depot();
    std::lock_guard lock(d.trim_mutex);
    std::size_t n = trim_depot(d, std::numeric_limits<std::size_t>::max(), false);
#ifdef __GLIBC__
    ::malloc_trim(0);
#endif
    return n;
}

void pool_set_idle_period(std::int64_t ns) noexcept {
    the_depot().idle_period.store(ns > 0 ? ns : pool_default_idle_period_ns,
                                  std::memory_order_relaxed);
}

std::size_t pool_reserved_bytes() noexcept {
    return the_depot().held.load(std::memory_order_relaxed);
}

pool_statistics pool_stats() noexcept {
    depot& d = the_depot();
    return {d.held.load(std::memory_order_relaxed), d.free_bytes.load(std::memory_order_relaxed),
            d.returned.load(std::memory_order_relaxed)};
}

}  // namespace weft::detail

namespace weft {

std::size_t trim() noexcept {
    return detail::pool_trim();
}

frame_pool_stats frame_pool_statistics() noexcept {
    detail::pool_statistics s = detail::pool_stats();
    return {s.held_bytes, detail::pool_reserve_bytes, s.depot_bytes, s.returned_bytes};
}

}  // namespace weft
