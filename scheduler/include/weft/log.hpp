// Where weft's own messages go: one replaceable sink, as asyncio's go through
// its `asyncio` logger. Every message the library writes (an exception no
// one retrieved, a task destroyed while pending, a slow step in debug mode,
// a worker or executor in trouble, WEFT_TRACE and WEFT_STATS output, the
// SIGQUIT task dump) is handed to the sink; by default it goes to stderr,
// one line (or block) per message.
//
//     weft::set_log_sink([](weft::log_level level, std::string_view msg) {
//         my_logger.write(level >= weft::log_level::error, msg);
//     });
//
// The sink may be called from any thread (a worker in Go mode, a pool
// thread, the SIGQUIT watcher), from several at once, and while weft holds
// no lock of the caller's: it must be thread-safe itself. It must not throw
// (what it throws is dropped). set_log_sink may be called at any time, from
// any thread, while tasks run; a message being written meanwhile goes to the
// old sink or the new one, whole.
#pragma once

#include <functional>
#include <string_view>

namespace weft {

// Python's logging levels.
enum class log_level { debug = 10, info = 20, warning = 30, error = 40, critical = 50 };

// The message has no trailing newline; it may span several lines.
using log_sink = std::function<void(log_level, std::string_view)>;

// Replaces the sink; an empty one restores the default (stderr). Returns the
// previous sink (empty if it was the default).
log_sink set_log_sink(log_sink sink);

// Hands a message to the sink (weft's components use it; so may a program).
// Never throws.
void log(log_level level, std::string_view message) noexcept;

}  // namespace weft
