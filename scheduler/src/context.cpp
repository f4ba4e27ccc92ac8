// contextvars: the maps' copy-on-set, the thread's own context, overrides.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <utility>

#include <weft/context_var.hpp>
#include <weft/detail/context_current.hpp>
#include <weft/detail/context_map.hpp>

namespace weft::detail {

__thread context_override* tls_context_override = nullptr;

namespace {
// A thread's context outside tasks. thread_local (not __thread): its map is
// released when the thread ends.
thread_local context_ref thread_slot;
}  // namespace

void context_ref::drop(context_map* m) noexcept {
    // acq_rel: the last owner's delete sees every other owner's reads.
    if (m->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete m;
}

context_ref& thread_context_slot() noexcept {
    return thread_slot;
}

context_ref& current_context_slot_slow() noexcept {
    return current_context_slot();
}

void inherit_context(context_ref& new_task_context) noexcept {
    new_task_context.share_into_empty(current_context_slot());
}

context_ref context_with(const context_map* from, std::uint64_t id,
                         std::shared_ptr<const void> value) {
    auto* m = new context_map;
    context_ref out(m);
    if (from != nullptr) {
        m->entries.reserve(from->entries.size() + 1);
        for (const context_entry& e : from->entries) {
            if (e.id != id) m->entries.push_back(e);
        }
    }
    if (value) {
        auto at =
            std::lower_bound(m->entries.begin(), m->entries.end(), id,
                             [](const context_entry& e, std::uint64_t k) { return e.id < k; });
        m->entries.insert(at, context_entry{id, std::move(value)});
    }
    // The empty map is the null pointer: a context emptied by resets shares
    // nothing and costs its tasks nothing.
    if (m->entries.empty()) out.reset();
    return out;
}

std::uint64_t new_context_var_id() noexcept {
    static std::atomic<std::uint64_t> next{0};
    return next.fetch_add(1, std::memory_order_relaxed) + 1;  // relaxed: only uniqueness matters
}

context_override_scope::context_override_scope(context_ref* slot) noexcept
    : node_{slot, tls_ctx.current_task, tls_context_override} {
    tls_context_override = &node_;
}

context_override_scope::~context_override_scope() {
    tls_context_override = node_.prev;
}

}  // namespace weft::detail
