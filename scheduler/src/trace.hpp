// The scheduler trace: WEFT_TRACE=file.json makes every thread of the
// scheduler record what it does, written as Chrome trace-event JSON (open it
// in https://ui.perfetto.dev or chrome://tracing) when a runner finishes and
// at exit. One lane per thread (workers, spares, the monitor, others that
// inject work), a slice per task step or callback named after the task, and
// instant markers for steals, parks, unparks, hand-offs and injections.
//
// Off, it costs a branch on a global that never changes: the step path
// already tests one flag for debug mode, and tracing shares it
// (loop_settings::instrumented); the other hooks sit on slow paths.
// On, each thread appends to its own buffer (a mutex nobody else takes but
// the final write), so tracing perturbs little beyond the clock reads.
#pragma once

#include <cstdint>
#include <string>

namespace weft::detail::trace {

// Whether WEFT_TRACE was set when the program started (read during static
// initialization, before any runtime exists). Inline: the hooks on the
// inject, steal and park paths cost one load of a global that never changes.
extern const bool g_enabled;
inline bool enabled() noexcept {
    return g_enabled;
}

// A task step or callback that ran on this thread, on worker `loop`.
void slice(std::int64_t begin_ns, std::int64_t end_ns, std::string name, unsigned loop);
// A marker on this thread's lane; `a` and `b` are shown as args when >= 0.
void instant(const char* what, const char* a_name = nullptr, std::int64_t a = -1,
             const char* b_name = nullptr, std::int64_t b = -1);
// This thread's lane title ("worker 0", "spare 3", "monitor"...).
void name_this_thread(std::string name);
// Writes everything recorded so far to the file (again, whole).
void flush() noexcept;

}  // namespace weft::detail::trace
