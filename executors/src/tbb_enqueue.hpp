// arena.enqueue behind a plain function (see tbb_enqueue.cpp for why).
#pragma once

#include <oneapi/tbb/task_arena.h>

namespace weft::detail {

// Enqueues run(arg) into `arena`.
void arena_enqueue(tbb::task_arena& arena, void (*run)(void*) noexcept, void* arg);

}  // namespace weft::detail
