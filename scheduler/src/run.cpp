// weft::run and weft::runner, including asyncio.Runner's SIGINT handling.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft/errors.hpp>
#include <weft/log.hpp>
#include <weft/parallelism.hpp>
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
    weft::log(weft::log_level::error, "KeyboardInterrupt");
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
    if (options.threads != 0) return check_thread_count(options.threads, "run_options::threads");
    const char* env = std::getenv("WEFT_THREADS");
    // Set but empty is unset, as Go takes an empty GOMAXPROCS.
    if (env == nullptr || *env == '\0') return 1;
    return parse_thread_count(env, "WEFT_THREADS");
}

const char* to_string(scheduling_model m) noexcept {
    switch (m) {
        case scheduling_model::asyncio:
            return "asyncio";
        case scheduling_model::go:
            return "go";
        case scheduling_model::automatic:
            break;
    }
    return "automatic";
}

scheduling_model parse_scheduling_model(std::string_view text, std::string_view source) {
    if (text == "asyncio") return scheduling_model::asyncio;
    if (text == "go") return scheduling_model::go;
    throw configuration_error(std::string(source),
                              "must be asyncio or go, got '" + std::string(text) + "'");
}

scheduling_model resolve_model(const run_options& options, int threads) {
    scheduling_model m = options.model;
    const char* source = "run_options::model";
    if (m == scheduling_model::automatic) {
        const char* env = std::getenv("WEFT_MODEL");
        if (env != nullptr && *env != '\0') {
            m = parse_scheduling_model(env, "WEFT_MODEL");
            source = "WEFT_MODEL";
        }
    }
    if (m == scheduling_model::automatic) {
        return threads == 1 ? scheduling_model::asyncio : scheduling_model::go;
    }
    if (m == scheduling_model::asyncio && threads != 1) {
        throw configuration_error(source, "asyncio's model runs on one thread, but " +
                                              std::to_string(threads) +
                                              " threads were asked for (use go)");
    }
    return m;
}

namespace {

// While a runner checks its options: a configuration_error that no caller
// catches ends the program with one line and exit status 1, as Python ends
// on an uncaught exception, instead of std::terminate's abort. With no
// handler above it the throw finds none and calls std::terminate without
// unwinding (so this scope's handler is still installed); a handler above it
// unwinds through the scope, which puts the program's own handler back.
// Runners built on several threads at once install it once, under a mutex.
std::mutex g_terminate_mutex;
int g_terminate_scopes = 0;  // guarded by g_terminate_mutex
std::atomic<std::terminate_handler> g_outer_terminate{nullptr};

[[noreturn]] void terminate_on_configuration_error() noexcept {
    if (std::exception_ptr e = std::current_exception()) {
        try {
            std::rethrow_exception(e);
        } catch (const configuration_error& error) {
            std::fflush(nullptr);  // what the program printed comes first, as in Python
            std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, error.what());
            std::fflush(stderr);
            std::_Exit(1);
        } catch (...) {
        }
    }
    if (std::terminate_handler outer = g_outer_terminate.load(std::memory_order_relaxed)) outer();
    std::abort();
}

class configuration_check_scope {
public:
    configuration_check_scope() {
        std::lock_guard<std::mutex> lock(g_terminate_mutex);
        if (g_terminate_scopes++ == 0) {
            g_outer_terminate.store(std::set_terminate(&terminate_on_configuration_error),
                                    std::memory_order_relaxed);
        }
    }
    ~configuration_check_scope() {
        std::lock_guard<std::mutex> lock(g_terminate_mutex);
        if (--g_terminate_scopes == 0) {
            std::set_terminate(g_outer_terminate.load(std::memory_order_relaxed));
        }
    }
    configuration_check_scope(const configuration_check_scope&) = delete;
    configuration_check_scope& operator=(const configuration_check_scope&) = delete;
};

struct checked_config {
    int threads;
    scheduling_model model;
    io_backend io;
};

// The thread count and model `options` ask for, after every option is
// checked and before anything starts.
checked_config checked_options(const run_options& options) {
    configuration_check_scope scope;
    int threads = resolve_threads(options);
    scheduling_model model = resolve_model(options, threads);
    if (model == scheduling_model::go && options.blocking_threshold.count() < 0) {
        throw configuration_error("run_options::blocking_threshold",
                                  "must be >= 0 (0 turns the monitor off), got " +
                                      std::to_string(options.blocking_threshold.count()) + " ns");
    }
    return {threads, model, resolve_io_backend(options.io)};
}

}  // namespace

runner::runner(run_options options) {
    const checked_config config = checked_options(options);
    threads_ = config.threads;
    if (config.model == scheduling_model::asyncio) {
        loop_ = std::make_unique<event_loop>(config.io);
    } else {
        rt_ = std::make_unique<detail::runtime_core>(
            static_cast<unsigned>(threads_),
            blocking_options{options.blocking_threshold, options.max_blocking_threads}, config.io);
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
            std::string report = rt_->stats_report();
            if (!report.empty() && report.back() == '\n') report.pop_back();
            weft::log(weft::log_level::info, report);
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
