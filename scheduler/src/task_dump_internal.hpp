// Task dumps, the parts the runner uses (see weft/task_dump.hpp).
#pragma once

#include <chrono>
#include <string>

namespace weft {
class event_loop;
}

namespace weft::detail {

// The dump as seen from `loop`, on its thread.
std::string format_tasks_on(event_loop& loop);

// From a thread outside the loop (a runtime's owner): has a loop thread take
// the dump and waits for it until `until`; empty if it did not answer
// (blocked in a step). Defined in background_runtime.cpp.
std::string dump_tasks_from_outside(event_loop& loop, std::chrono::steady_clock::time_point until);

// While alive, `loop` (run by a runner) is where a SIGQUIT dump is printed.
class dump_target_scope {
public:
    explicit dump_target_scope(event_loop& loop);
    ~dump_target_scope();
    dump_target_scope(const dump_target_scope&) = delete;
    dump_target_scope& operator=(const dump_target_scope&) = delete;

private:
    event_loop* loop_;
};

}  // namespace weft::detail
