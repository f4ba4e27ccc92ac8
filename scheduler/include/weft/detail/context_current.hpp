// Which context is current (see context_map.hpp), inline for create_task.
#pragma once

#include <weft/detail/context_map.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/thread_context.hpp>

namespace weft::detail {

inline context_ref& current_context_slot() noexcept {
    task_record* t = tls_ctx.current_task;
    context_override* o = tls_context_override;
    if (o != nullptr && o->task == t) [[unlikely]]
        return *o->slot;
    if (t != nullptr) [[likely]]
        return t->context;
    return thread_context_slot();
}

}  // namespace weft::detail
