// Task dumps: every live task with its name, state and the chain of
// coroutines it is suspended in, outermost first (asyncio's
// Task.print_stack for all tasks at once; Go's goroutine dump).
//
//     weft::dump_tasks();          // to stderr, from a task or a loop callback
//     std::string s = weft::format_tasks();
//     weft::enable_task_dump_on_sigquit();  // kill -QUIT <pid> prints the dump
//
//     3 live tasks
//     Task 'Task-1' pending
//         main() at app.cpp:40
//         fetch_all(int) at app.cpp:28
//         fetch(int) at app.cpp:15
//     ...
//
// Each coroutine shows as its function and source line where it was
// defined (a weft::task records that when it is created; it costs one
// pointer in the frame). The innermost frame of a pending task is the one
// that awaits (a sleep, a queue, a socket...). A wait implemented by an
// internal coroutine shows as "(inside a weft operation)".
//
// In Go mode the dump stops every worker between two steps first (as Go's
// stop-the-world), so no chain changes while it is read. A worker that does
// not stop within 200 ms (blocked, with the monitor off) is named, and its
// tasks are left out.
#pragma once

#include <cstdio>
#include <string>

namespace weft {

// The dump as text. Call it from the loop's thread: in a task or callback.
std::string format_tasks();

// Writes format_tasks() to `out`.
void dump_tasks(std::FILE* out = stderr);

// From now on SIGQUIT (Ctrl-\) makes the running loop(s) print a task dump to
// stderr at their next iteration, instead of ending the process with a core
// dump. Off by default, as in Go (GOTRACEBACK) and Tokio. Raises
// std::system_error if the handler cannot be installed.
void enable_task_dump_on_sigquit();

}  // namespace weft
