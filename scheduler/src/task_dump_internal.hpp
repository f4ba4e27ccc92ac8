// Task dumps, the parts the runner uses (see weft/task_dump.hpp).
#pragma once

#include <string>

namespace weft {
class event_loop;
}

namespace weft::detail {

// The dump as seen from `loop`, on its thread.
std::string format_tasks_on(event_loop& loop);

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
