// Task dumps (task_dump.hpp): walking each live task's chain of suspended
// coroutines, stopping Go mode's workers while it is read, and SIGQUIT.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <weft/detail/runtime_core.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>
#include <weft/log.hpp>
#include <weft/task.hpp>
#include <weft/task_dump.hpp>

#include "task_dump_internal.hpp"

namespace weft {

namespace detail {

namespace {

// The promise of the coroutine whose frame is at `frame`. Every weft::task
// promise type derives from task_promise_base at offset 0 and, being no more
// than 16-byte aligned, sits at the same offset in its frame.
const task_promise_base* promise_at(void* frame) noexcept {
    auto h = std::coroutine_handle<task_promise<void>>::from_address(frame);
    return &static_cast<const task_promise_base&>(h.promise());
}

void append_location(std::string& out, const source_location& where) {
    out += "    ";
    out += where.function_name();
    out += " at ";
    out += where.file_name();
    out += ':';
    out += std::to_string(where.line());
    out += '\n';
}

// The chain of a task that is not running: from its root, which suspended
// in the innermost frame (root->link), each inline frame's link being the
// frame that awaits it. Collected innermost first, printed outermost first.
void append_chain(std::string& out, task_record* root) {
    const auto* root_promise = static_cast<const task_promise_base*>(root);
    std::vector<const task_promise_base*> frames;
    bool foreign = false;
    void* frame = root->started() ? root->link.address() : nullptr;
    // A chain deeper than this is shown cut: a dump is for reading.
    constexpr std::size_t max_frames = 64;
    while (frame != nullptr && frames.size() < max_frames) {
        const task_promise_base* p = promise_at(frame);
        if (p == root_promise) break;
        if (p->magic != task_promise_base::frame_magic) {
            foreign = true;  // an internal coroutine (queue slow paths...)
            break;
        }
        frames.push_back(p);
        frame = p->link.address();
    }
    append_location(out, root_promise->where);
    for (auto it = frames.rbegin(); it != frames.rend(); ++it)
        append_location(out, (*it)->where);
    if (frames.size() == max_frames) out += "    ... (deeper frames not shown)\n";
    if (foreign) out += "    (inside a weft operation)\n";
}

void append_task(std::string& out, task_record* t) {
    bool running = t == task_record::current();
    out += "Task '";
    out += t->name();
    out += "' ";
    if (running) {
        out += "running (the task asking for this dump)\n";
    } else if (!t->started()) {
        out += "pending, not started\n";
    } else if (t->cancelling() > 0) {
        out += "pending, cancelling\n";
    } else {
        out += "pending\n";
    }
    if (running) {
        // Its frames are changing under us: the root only.
        append_location(out, static_cast<const task_promise_base*>(t)->where);
    } else {
        append_chain(out, t);
    }
}

std::string count_line(std::size_t n) {
    return std::to_string(n) + " live task" + (n == 1 ? "" : "s");
}

// Go mode: every other worker runs one of these between two steps and waits
// there until the dump is written. Shared: a worker that arrives after the
// dumper gave up must still find it.
struct world_stop {
    std::atomic<unsigned> arrived{0};
    std::atomic<bool> released{false};
    std::vector<std::atomic<bool>> stopped;
    explicit world_stop(unsigned n) : stopped(n) {}
};

}  // namespace

std::string format_tasks_on(event_loop& loop) {
    std::vector<task_record*> tasks;
    std::string notes;
    runtime_core* rt = loop.runtime();
    if (rt == nullptr) {
        tasks = loop.live_tasks();
        std::erase_if(tasks, [](task_record* t) { return t->done(); });
        std::string out = count_line(tasks.size()) + "\n";
        for (task_record* t : tasks)
            append_task(out, t);
        return out;
    }

    // Go mode: stop the world, then read every worker's registry.
    const unsigned n = rt->size();
    auto stop = std::make_shared<world_stop>(n);
    rt->hold_monitor();
    struct unhold {
        runtime_core* rt;
        ~unhold() { rt->release_monitor(); }
    } unhold_guard{rt};
    unsigned me = loop.worker_index();
    for (unsigned i = 0; i < n; ++i) {
        if (i == me) continue;
        rt->worker(i).call_soon_threadsafe([stop, i] {
            stop->stopped[i].store(true, std::memory_order_relaxed);
            // release: pairs with the dumper's acquire; this loop's registry
            // as it is now happens before the dumper reads it.
            stop->arrived.fetch_add(1, std::memory_order_release);
            // acquire: pairs with the release store after the dump.
            while (!stop->released.load(std::memory_order_acquire))
                std::this_thread::yield();
        });
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    while (stop->arrived.load(std::memory_order_acquire) < n - 1 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    bool all = stop->arrived.load(std::memory_order_acquire) == n - 1;
    // A step that blocked its thread, whose loop went to another thread,
    // runs on while the world is stopped: its task's frames may change (and
    // it may finish) while they are read. Which task it runs cannot be read
    // safely, so no chain is shown while one runs.
    const bool blocked_step = rt->blocked_step_running();
    if (blocked_step) {
        notes +=
            "a thread is blocked in a task step (its loop went to another thread): "
            "await chains are not shown\n";
    }
    for (unsigned i = 0; i < n; ++i) {
        if (i != me && !stop->stopped[i].load(std::memory_order_relaxed)) {
            notes += "worker " + std::to_string(i) +
                     " did not stop within 200 ms (a blocked step?): its tasks are not listed\n";
            continue;
        }
        std::vector<task_record*> mine = rt->worker(i).live_tasks();
        tasks.insert(tasks.end(), mine.begin(), mine.end());
    }
    std::erase_if(tasks, [](task_record* t) { return t->done(); });
    std::string out = count_line(tasks.size()) + " on " + std::to_string(n) + " workers\n";
    out += notes;
    if (!all || blocked_step) {
        // A worker still runs: its current task may be one of those listed,
        // whose frames would change while read. Names and states only.
        for (task_record* t : tasks)
            out += "Task '" + t->name() + "'\n";
    } else {
        for (task_record* t : tasks)
            append_task(out, t);
    }
    stop->released.store(true, std::memory_order_release);
    return out;
}

// ---- SIGQUIT

namespace {

int g_sigquit_pipe[2] = {-1, -1};
std::mutex g_targets_mutex;
std::vector<event_loop*> g_targets;  // loops run by a runner, outermost first

void on_sigquit(int) {
    int saved = errno;
    char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(g_sigquit_pipe[1], &byte, 1);
    errno = saved;
}

// Waits for the handler's bytes and asks the innermost running loop to
// print a dump from its own thread.
void sigquit_watcher() {
    char byte;
    for (;;) {
        ssize_t n = ::read(g_sigquit_pipe[0], &byte, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        std::lock_guard lock(g_targets_mutex);
        if (g_targets.empty()) {
            weft::log(weft::log_level::info,
                      "weft: SIGQUIT: no event loop is running, no tasks to dump");
            continue;
        }
        event_loop* loop = g_targets.back();
        loop->call_soon_threadsafe([loop] {
            std::string s = format_tasks_on(*loop);
            if (!s.empty() && s.back() == '\n') s.pop_back();  // the sink ends the line
            weft::log(weft::log_level::info, s);
        });
    }
}

}  // namespace

dump_target_scope::dump_target_scope(event_loop& loop) : loop_(&loop) {
    std::lock_guard lock(g_targets_mutex);
    g_targets.push_back(loop_);
}

dump_target_scope::~dump_target_scope() {
    std::lock_guard lock(g_targets_mutex);
    auto it = std::find(g_targets.rbegin(), g_targets.rend(), loop_);
    if (it != g_targets.rend()) g_targets.erase(std::next(it).base());
}

}  // namespace detail

std::string format_tasks() {
    event_loop* loop = event_loop::current();
    if (loop == nullptr) {
        throw std::logic_error(
            "weft::format_tasks: call it from an event loop's thread (in a task or callback)");
    }
    return detail::format_tasks_on(*loop);
}

void dump_tasks(std::FILE* out) {
    std::string s = format_tasks();
    std::fputs(s.c_str(), out);
    std::fflush(out);
}

void enable_task_dump_on_sigquit() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (::pipe2(detail::g_sigquit_pipe, O_CLOEXEC) != 0) {
            throw std::system_error(errno, std::generic_category(),
                                    "weft::enable_task_dump_on_sigquit: pipe");
        }
        std::thread(detail::sigquit_watcher).detach();
        struct sigaction sa {};
        sa.sa_handler = &detail::on_sigquit;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        if (::sigaction(SIGQUIT, &sa, nullptr) != 0) {
            throw std::system_error(errno, std::generic_category(),
                                    "weft::enable_task_dump_on_sigquit: sigaction(SIGQUIT)");
        }
    });
}

}  // namespace weft
