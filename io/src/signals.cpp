// Signal handlers on the loop: a sigaction handler that only counts and
// writes to an eventfd (async-signal-safe), and a watcher task per loop that
// turns the counts into callbacks.
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <sys/eventfd.h>
#include <unistd.h>

#include <weft/event_loop.hpp>
#include <weft/io/signals.hpp>
#include <weft/task_handle.hpp>

#include "io_wait.hpp"

namespace weft {

namespace detail {

namespace {

constexpr int signal_count = _NSIG;

// What the sigaction handler reads: lock-free atomics only.
std::atomic<int> notify_fd[signal_count];           // the watching loop's eventfd, or -1
std::atomic<std::uint32_t> arrivals[signal_count];  // not yet dispatched
std::atomic<int> handlers_running{0};

extern "C" void on_signal(int sig) {
    int saved_errno = errno;
    // seq_cst, with stop_notifying(): either it sees us running or we see
    // its -1, so it never closes an eventfd we are about to write to.
    handlers_running.fetch_add(1, std::memory_order_seq_cst);
    arrivals[sig].fetch_add(1, std::memory_order_relaxed);
    int fd = notify_fd[sig].load(std::memory_order_seq_cst);
    if (fd >= 0) {
        std::uint64_t one = 1;
        ssize_t r = ::write(fd, &one, sizeof one);
        (void)r;  // EAGAIN: the counter is full, the loop is woken anyway
    }
    handlers_running.fetch_sub(1, std::memory_order_release);
    errno = saved_errno;
}

// One per loop that has handlers.
struct loop_signals {
    event_loop* loop = nullptr;
    io_handle efd;
    std::map<int, std::function<void()>> handlers;
    bool retired = false;
};

struct registry {
    std::mutex mutex;
    std::vector<std::shared_ptr<loop_signals>> loops;
    struct sigaction saved[signal_count];
    bool installed[signal_count] = {};

    registry() {
        for (auto& fd : notify_fd)
            fd.store(-1, std::memory_order_relaxed);
    }

    // The entry of `loop`'s scheduler: in Go mode every worker of a
    // runtime shares one, so a handler added on one worker is removed on
    // any other.
    std::shared_ptr<loop_signals> find(event_loop* loop) {
        for (auto& l : loops)
            if (l->loop == loop || loop->same_scheduler(l->loop)) return l;
        return nullptr;
    }

    // Under the mutex: `sig` stops reaching any loop and gets back the
    // action it had before weft's.
    void uninstall_locked(int sig) {
        notify_fd[sig].store(-1, std::memory_order_seq_cst);
        if (installed[sig]) {
            ::sigaction(sig, &saved[sig], nullptr);
            installed[sig] = false;
        }
        arrivals[sig].store(0, std::memory_order_relaxed);
    }

    // Under the mutex: `ls` has no handlers left; close its eventfd once no
    // signal handler can be writing to it. Its watcher ends on the close.
    void retire_locked(const std::shared_ptr<loop_signals>& ls) {
        for (auto& [sig, cb] : ls->handlers)
            uninstall_locked(sig);
        ls->handlers.clear();
        ls->retired = true;
        // acquire: pairs with the handler's release decrement.
        while (handlers_running.load(std::memory_order_seq_cst) != 0) {
        }
        ls->efd.entry->close(ls->efd.gen);
        std::erase(loops, ls);
    }
};

registry& signals() {
    static registry* r = new registry;  // used by the watcher until the very end
    return *r;
}

task<void> watch(std::shared_ptr<loop_signals> ls) {
    struct on_exit {
        std::shared_ptr<loop_signals> ls;
        ~on_exit() {
            // Cancelled by the runner's shutdown (asyncio's loop.close()
            // removes the handlers too), or retired already.
            registry& r = signals();
            std::lock_guard lock(r.mutex);
            if (!ls->retired) r.retire_locked(ls);
        }
    } guard{ls};
    for (;;) {
        io_attempt a = try_io(ls->efd, io_dir::read, [](int fd) {
            std::uint64_t n;
            return ::read(fd, &n, sizeof n);
        });
        if (a.closed) co_return;
        if (a.again) {
            if (!co_await io_wait(ls->efd, io_dir::read, a.seq)) co_return;
            continue;
        }
        if (a.n < 0) co_return;
        std::vector<std::function<void()>> calls;
        {
            registry& r = signals();
            std::lock_guard lock(r.mutex);
            for (auto& [sig, cb] : ls->handlers) {
                std::uint32_t n = arrivals[sig].exchange(0, std::memory_order_relaxed);
                for (std::uint32_t i = 0; i < n; ++i)
                    calls.push_back(cb);
            }
        }
        event_loop& loop = get_running_loop();
        for (auto& c : calls)
            loop.call_soon(std::move(c));
    }
}

void check_signal(int sig, const char* what) {
    if (sig < 1 || sig >= signal_count) {
        throw std::invalid_argument(std::string(what) + ": invalid signal number " +
                                    std::to_string(sig));
    }
    if (sig == SIGKILL || sig == SIGSTOP) {
        throw std::invalid_argument(std::string(what) + ": signal " + std::to_string(sig) +
                                    " cannot be caught");
    }
}

}  // namespace

}  // namespace detail

void add_signal_handler(int sig, std::function<void()> callback) {
    detail::check_signal(sig, "weft::add_signal_handler");
    if (!callback) throw std::invalid_argument("weft::add_signal_handler: empty callback");
    event_loop* loop = &get_running_loop();
    detail::registry& r = detail::signals();
    std::lock_guard lock(r.mutex);
    std::shared_ptr<detail::loop_signals> ls = r.find(loop);
    if (!ls) {
        int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (efd < 0) {
            throw std::system_error(errno, std::generic_category(),
                                    "weft::add_signal_handler: eventfd");
        }
        ls = std::make_shared<detail::loop_signals>();
        ls->loop = loop;
        ls->efd = detail::io_entry::open(efd);
        r.loops.push_back(ls);
        loop->create_task(detail::watch(ls), "weft.io.signals");
    }
    // A signal is watched by one loop: the newest registration wins.
    for (auto& other : r.loops)
        if (other != ls) other->handlers.erase(sig);
    ls->handlers[sig] = std::move(callback);
    detail::notify_fd[sig].store(ls->efd.entry->fd(), std::memory_order_seq_cst);
    if (!r.installed[sig]) {
        struct sigaction act {};
        act.sa_handler = &detail::on_signal;
        sigemptyset(&act.sa_mask);
        act.sa_flags = SA_RESTART;  // asyncio: siginterrupt(sig, False)
        if (::sigaction(sig, &act, &r.saved[sig]) < 0) {
            int err = errno;
            detail::notify_fd[sig].store(-1, std::memory_order_seq_cst);
            ls->handlers.erase(sig);
            throw std::system_error(
                err, std::generic_category(),
                "weft::add_signal_handler: sigaction(" + std::to_string(sig) + ")");
        }
        r.installed[sig] = true;
    }
}

bool remove_signal_handler(int sig) {
    detail::check_signal(sig, "weft::remove_signal_handler");
    event_loop* loop = &get_running_loop();
    detail::registry& r = detail::signals();
    std::lock_guard lock(r.mutex);
    std::shared_ptr<detail::loop_signals> ls = r.find(loop);
    if (!ls || ls->handlers.erase(sig) == 0) return false;
    r.uninstall_locked(sig);
    if (ls->handlers.empty()) r.retire_locked(ls);
    return true;
}

}  // namespace weft
