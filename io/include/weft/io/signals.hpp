// Unix signal handlers that run as loop callbacks (asyncio's
// loop.add_signal_handler / remove_signal_handler).
//
//     weft::add_signal_handler(SIGTERM, [&srv] { srv.close(); });
//     co_await srv.serve_forever();     // returns when SIGTERM arrives
//
// The handler is an ordinary callback scheduled on the loop that added it
// (in Go mode: the worker it was added from), so it may do anything a
// callback may: its exceptions go to the loop's exception handler. Each
// arrival of the signal schedules one call (arrivals close together may be
// counted together, as the kernel merges pending signals).
//
// The machinery is the self-pipe trick: an async-signal-safe sigaction
// handler counts the signal and writes to an eventfd the loop polls. It
// works whatever the threads' signal masks are, and it stacks with other
// sigaction users: adding a handler saves the signal's current action (for
// SIGINT, e.g., the runner's), and removing it restores that action. The
// handlers a loop has are removed when the runner shuts the loop down.
#pragma once

#include <functional>

namespace weft {

// Calls `callback` on the running loop whenever `sig` arrives, replacing a
// handler `sig` had. Raises std::invalid_argument for a signal that cannot
// be caught (SIGKILL, SIGSTOP) or is out of range, no_running_loop_error
// outside a loop.
void add_signal_handler(int sig, std::function<void()> callback);
// Removes the running loop's handler for `sig` and restores the action the
// signal had before; false if the loop had none.
bool remove_signal_handler(int sig);

}  // namespace weft
