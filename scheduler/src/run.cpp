// weft::run and weft::runner, including asyncio.Runner's SIGINT handling.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft/run.hpp>

#include "task_dump_internal.hpp"
#include "trace.hpp"

namespace weft {

namespace {

// SIGINT while a runner runs. The handler only does what is
// async-signal-safe: bump a lock-free counter, write an eventfd, and on the
// second signal restore the default action and raise it again.
std::atomic<int> g_sigints{0};
std::atomic<int> g_sigint_wake_fd{-1};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_sigint(int) {
    int n = g_sigints.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n >= 2) {
        // A second Ctrl-C during the cleanup: end at once, as Python does.
        static const char msg[] = "KeyboardInterrupt\n";
        ssize_t r = ::write(2, msg, sizeof msg - 1);
        (void)r;
        ::signal(SIGINT, SIG_DFL);
        sigset_t only_sigint;  // blocked while its handler runs: unblock to die by it
        sigemptyset(&only_sigint);
        sigaddset(&only_sigint, SIGINT);
        ::sigprocmask(SIG_UNBLOCK, &only_sigint, nullptr);
        ::raise(SIGINT);
        ::_exit(130);
    }
    int fd = g_sigint_wake_fd.load(std::memory_order_relaxed);
    if (fd >= 0) {
        std::uint64_t one = 1;
        ssize_t r = ::write(fd, &one, sizeof one);  // breaks the loop's wait
        (void)r;
    }
}

// Installs on_sigint for a scope, as asyncio.Runner.run does: only on the
// main thread, and only if the program left SIGINT at its default action.
class sigint_scope {
public:
    explicit sigint_scope(int wake_fd) {
        if (::syscall(SYS_gettid) != ::getpid()) return;
        struct sigaction current {};
        if (::sigaction(SIGINT, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) return;
        g_sigints.store(0, std::memory_order_relaxed);
        g_sigint_wake_fd.store(wake_fd, std::memory_order_relaxed);
        struct sigaction sa {};
        sa.sa_handler = &on_sigint;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        installed_ = ::sigaction(SIGINT, &sa, &previous_) == 0;
    }
    ~sigint_scope() {
        if (!installed_) return;
        ::sigaction(SIGINT, &previous_, nullptr);
        g_sigint_wake_fd.store(-1, std::memory_order_relaxed);
    }
    sigint_scope(const sigint_scope&) = delete;
    sigint_scope& operator=(const sigint_scope&) = delete;
    bool installed() const noexcept { return installed_; }

private:
    bool installed_ = false;
    struct sigaction previous_ {};
};

}  // namespace

void exit_like_keyboard_interrupt() {
    std::fflush(stdout);
    std::fputs("KeyboardInterrupt\n", stderr);
    std::fflush(stderr);
    ::signal(SIGINT, SIG_DFL);
    ::raise(SIGINT);
    std::_Exit(130);  // if SIGINT is blocked
}

bool runner::run_main(task_ref main) {
    sigint_scope sigint(get_loop().wakeup_fd());
    detail::dump_target_scope dump_target(get_loop());
    struct trace_flush {
        ~trace_flush() {
            if (detail::trace::enabled()) detail::trace::flush();
        }
    } flush_when_done;
    if (detail::trace::enabled())
        detail::trace::name_this_thread(rt_ ? "coordinator (waits for the main task)"
                                            : "event loop");
    // asyncio.Runner._on_sigint: the first Ctrl-C cancels the main task.
    auto on_interrupt = [main](int count) mutable {
        if (count == 1 && !main.done()) main.cancel();
    };
    const std::atomic<int>* watch = sigint.installed() ? &g_sigints : nullptr;
    if (rt_) {
        rt_->run(main.record(), watch, on_interrupt);
    } else {
        struct unwatch {
            event_loop& loop;
            ~unwatch() { loop.set_interrupt_watch(nullptr, {}); }
        } guard{*loop_};
        if (watch) loop_->set_interrupt_watch(watch, on_interrupt);
        run_until_done(*loop_, main);
    }
    return watch != nullptr && g_sigints.load(std::memory_order_relaxed) > 0;
}

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
        if (options.blocking_threshold.count() < 0) {
            throw std::invalid_argument(
                "weft::run: blocking_threshold must be >= 0 (0 turns the monitor off), got " +
                std::to_string(options.blocking_threshold.count()) + " ns");
        }
        rt_ = std::make_unique<detail::runtime_core>(
            static_cast<unsigned>(threads_),
            blocking_options{options.blocking_threshold, options.max_blocking_threads});
    }
    get_loop().set_debug(options.debug);
    if (options.shutdown_timeout.count() < 0) {
        throw std::invalid_argument("weft::run: shutdown_timeout must be >= 0 (0: no limit), got " +
                                    std::to_string(options.shutdown_timeout.count()) + " ns");
    }
    shutdown_timeout_ = options.shutdown_timeout;
}

std::vector<worker_stats> runner::stats() const {
    return rt_ ? rt_->stats() : std::vector<worker_stats>{};
}

std::vector<worker_stats> runtime_stats() {
    event_loop* loop = event_loop::current();
    if (loop == nullptr || loop->runtime() == nullptr) return {};
    return loop->runtime()->stats();
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
    auto deadline = std::chrono::steady_clock::time_point::max();
    timer_handle wake;
    if (shutdown_timeout_.count() > 0) {
        deadline = std::chrono::steady_clock::now() + shutdown_timeout_;
        wake = loop_->call_later(shutdown_timeout_, [] {});  // ends the loop's wait then
    }
    loop_->run_until([&] {
        if (std::chrono::steady_clock::now() >= deadline) return true;
        for (task_ref& t : pending)
            if (!t.done()) return false;
        return true;
    });
    wake.cancel();
    if (std::chrono::steady_clock::now() >= deadline) {
        std::string dump = detail::format_tasks_on(*loop_);
        if (dump.rfind("0 live tasks", 0) != 0) {
            std::fprintf(stderr, "weft::run: shutdown_timeout passed; tasks still alive:\n%s",
                         dump.c_str());
        }
    }
    for (task_ref& t : pending) {
        if (!t.done() || t.cancelled()) continue;  // not done: left at the deadline
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
        if (shutdown_timeout_.count() > 0) {
            // At the deadline, with the loops still running: name what is left.
            rt_->shutdown(std::chrono::steady_clock::now() + shutdown_timeout_, [this] {
                std::string dump = detail::dump_tasks_from_outside(
                    rt_->main_loop(),
                    std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
                std::fprintf(stderr, "weft::run: shutdown_timeout passed; tasks still alive:\n%s",
                             dump.c_str());
            });
        } else {
            rt_->shutdown();
        }
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
