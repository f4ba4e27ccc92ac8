// weft::run and weft::runner.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/run.hpp>

namespace weft {

int resolve_threads(const run_options& options) {
    if (options.threads < 0) {
        throw std::invalid_argument("weft::run: threads must be >= 1, got " +
                                    std::to_string(options.threads));
    }
    if (options.threads > 0) return options.threads;
    const char* env = std::getenv("WEFT_THREADS");
    if (env == nullptr || *env == '\0') return 1;
    errno = 0;
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (errno != 0 || end == env || *end != '\0' || v < 1 || v > 4096) {
        throw std::invalid_argument(std::string("weft: WEFT_THREADS must be a whole number "
                                                "from 1 to 4096, got '") +
                                    env + "'");
    }
    return static_cast<int>(v);
}

runner::runner(run_options options) : threads_(resolve_threads(options)) {
    if (threads_ > 4096) {
        throw std::invalid_argument("weft::run: threads must be at most 4096, got " +
                                    std::to_string(threads_));
    }
    if (threads_ == 1) {
        loop_ = std::make_unique<event_loop>();
    } else {
        rt_ = std::make_unique<detail::runtime_core>(static_cast<unsigned>(threads_));
    }
    get_loop().set_debug(options.debug);
}

std::vector<worker_stats> runner::stats() const {
    return rt_ ? rt_->stats() : std::vector<worker_stats>{};
}

runner::~runner() {
    try {
        close();
    } catch (...) {
        event_loop::default_exception_handler(
            exception_context{"error while closing a weft::runner", std::current_exception(), {}});
    }
}

void runner::prepare_run() {
    if (closed_) throw std::logic_error("weft::runner: run() after close()");
    if (event_loop::current() != nullptr) {
        throw std::logic_error("weft::run() cannot be called from a running event loop");
    }
}

void runner::cancel_all_tasks() {
    std::vector<task_ref> pending;
    for (detail::task_record* r : loop_->live_tasks()) {
        if (!r->done()) pending.push_back(task_ref::from_record(r));
    }
    if (pending.empty()) return;
    for (task_ref& t : pending)
        t.cancel();
    loop_->run_until([&] {
        for (task_ref& t : pending)
            if (!t.done()) return false;
        return true;
    });
    for (task_ref& t : pending) {
        if (t.cancelled()) continue;
        if (std::exception_ptr e = t.exception()) {
            loop_->call_exception_handler(exception_context{
                "unhandled exception during weft::run() shutdown", e, t.get_name()});
        }
    }
}

void runner::close() {
    if (closed_) return;
    closed_ = true;
    if (rt_) {
        rt_->shutdown();
        const char* show = std::getenv("WEFT_STATS");
        if (show != nullptr && *show != '\0' && std::string(show) != "0") {
            std::fputs(rt_->stats_report().c_str(), stderr);
        }
        rt_.reset();  // joins nothing (already stopped) and closes the workers' loops
        return;
    }
    try {
        cancel_all_tasks();
    } catch (...) {
        loop_->close();
        throw;
    }
    loop_->close();
}

}  // namespace weft
