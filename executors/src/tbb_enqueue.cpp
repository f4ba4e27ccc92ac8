// The one place the executors hand work to oneTBB: arena.enqueue of a
// runner. Under ThreadSanitizer this file is compiled without
// instrumentation (executors/CMakeLists.txt): TBB's task objects, and the
// small-object pool it recycles them through, are written by one thread and
// read or reused by another through TBB's own synchronisation, which lives
// in the uninstrumented libtbb and which TSan therefore cannot see. The
// thread pool marks the hand-over itself (a release before this call, an
// acquire as the runner starts), so that everything the runner does is still
// checked.
#include "tbb_enqueue.hpp"

#include <oneapi/tbb/task_arena.h>

namespace weft::detail {

void arena_enqueue(tbb::task_arena& arena, void (*run)(void*) noexcept, void* arg) {
    arena.enqueue([run, arg] { run(arg); });
}

}  // namespace weft::detail
