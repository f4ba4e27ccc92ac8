// The slow paths of the frame allocator: refilling from the depot or carving
// new memory, spilling to the depot, and handing a thread's lists back when it
// exits. See detail/frame_allocator.hpp for the design.
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <weft/detail/frame_allocator.hpp>

namespace weft::detail {

__thread pool_cache tls_pool;

namespace {

// Memory is carved in chunks this large; a chunk is never returned.
constexpr std::size_t chunk_bytes = 64 * 1024;
// Objects moved between a thread and the depot at a time.
constexpr std::uint32_t batch_size = pool_list_limit / 2;

struct batch {
    pool_free_node* head;
    pool_free_node* tail;
    std::uint32_t count;
};

struct depot {
    std::mutex mutex;
    std::vector<batch> lists[pool_classes];
    std::atomic<std::size_t> reserved{0};
};

depot& the_depot() {
    // Leaked on purpose: threads may free frames during static destruction.
    static depot* d = new depot;
    return *d;
}

void give_back(std::size_t cls, pool_free_node* head, pool_free_node* tail, std::uint32_t n) {
    depot& d = the_depot();
    std::lock_guard lock(d.mutex);
    d.lists[cls].push_back(batch{head, tail, n});
}

void flush_thread_cache() noexcept {
    pool_cache& c = tls_pool;
    for (std::size_t cls = 0; cls < pool_classes; ++cls) {
        pool_free_node* head = c.head[cls];
        if (head == nullptr) continue;
        pool_free_node* tail = head;
        while (tail->next != nullptr)
            tail = tail->next;
        give_back(cls, head, tail, c.count[cls]);
        c.head[cls] = nullptr;
        c.count[cls] = 0;
    }
    // The unused rest of the bump region is lost; at most one chunk per thread.
    c.bump = c.bump_end = nullptr;
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

}  // namespace

void* pool_allocate_slow(std::size_t size) {
    pool_cache& c = tls_pool;
    if (c.state == pool_state_fresh) activate_this_thread();
    std::size_t cls = (size - 1) / pool_granule;
    std::size_t rounded = (cls + 1) * pool_granule;
    if (c.state == pool_state_active) {
        depot& d = the_depot();
        {
            std::lock_guard lock(d.mutex);
            auto& lists = d.lists[cls];
            if (!lists.empty()) {
                batch b = lists.back();
                lists.pop_back();
                c.head[cls] = b.head->next;
                c.count[cls] = b.count - 1;
                return b.head;
            }
        }
        if (static_cast<std::size_t>(c.bump_end - c.bump) < rounded) {
            c.bump = static_cast<char*>(::operator new(chunk_bytes));
            c.bump_end = c.bump + chunk_bytes;
            d.reserved.fetch_add(chunk_bytes, std::memory_order_relaxed);  // statistics only
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

std::size_t pool_reserved_bytes() noexcept {
    return the_depot().reserved.load(std::memory_order_relaxed);
}

}  // namespace weft::detail
