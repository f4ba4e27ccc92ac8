// The default executor of each event loop (Go mode: of each runtime), made on
// first use and shut down, waiting for its jobs, when the loop shuts down
// (event_loop::add_shutdown_callback): asyncio.run's
// loop.shutdown_default_executor().
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <weft/executors/run_in_executor.hpp>

namespace weft {

namespace {

struct default_executors {
    struct entry {
        std::shared_ptr<thread_pool_executor> current;
        // Replaced by set_default_executor while jobs may still use them:
        // kept until the loop shuts down.
        std::vector<std::shared_ptr<thread_pool_executor>> retired;
    };
    std::mutex m;
    // By loop (single-thread mode) or runtime (Go mode), whose lifetime the
    // shutdown callback bounds: the entry goes before the key can be reused.
    std::unordered_map<const void*, entry> by_group;
};

default_executors& registry() {
    static auto* r = new default_executors;  // never destroyed: loops may outlive statics
    return *r;
}

const void* group_key(event_loop& loop) noexcept {
    if (loop.runtime() != nullptr) return static_cast<const void*>(loop.runtime());
    return &loop;
}

void shut_down_group(const void* key) {
    default_executors& r = registry();
    default_executors::entry e;
    {
        std::lock_guard lock(r.m);
        auto it = r.by_group.find(key);
        if (it == r.by_group.end()) return;
        e = std::move(it->second);
        r.by_group.erase(it);
    }
    if (e.current) e.current->shutdown(true);
    for (auto& old : e.retired)
        old->shutdown(true);
}

// Returns the group's entry, registering the shutdown callback on first use.
// Called with the registry's lock held.
default_executors::entry& entry_for(default_executors& r, event_loop& loop) {
    const void* key = group_key(loop);
    auto [it, inserted] = r.by_group.try_emplace(key);
    if (inserted) {
        try {
            loop.add_shutdown_callback([key] { shut_down_group(key); });
        } catch (...) {
            r.by_group.erase(it);
            throw;
        }
    }
    return it->second;
}

}  // namespace

thread_pool_executor& default_executor() {
    event_loop& loop = get_running_loop();
    default_executors& r = registry();
    std::lock_guard lock(r.m);
    default_executors::entry& e = entry_for(r, loop);
    if (!e.current) e.current = std::make_shared<thread_pool_executor>();
    return *e.current;
}

void set_default_executor(std::shared_ptr<thread_pool_executor> executor) {
    if (!executor) throw std::invalid_argument("weft::set_default_executor: null executor");
    event_loop& loop = get_running_loop();
    default_executors& r = registry();
    std::lock_guard lock(r.m);
    default_executors::entry& e = entry_for(r, loop);
    if (e.current) e.retired.push_back(std::move(e.current));
    e.current = std::move(executor);
}

}  // namespace weft
