// Subprocesses: posix_spawn with pipes, a pidfd watched on the loop's epoll,
// and a watcher task per child that reaps it the moment it exits.
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/gather.hpp>
#include <weft/io/subprocess.hpp>
#include <weft/task_handle.hpp>

#include "fd_transport.hpp"
#include "io_wait.hpp"

extern char** environ;

namespace weft {

namespace detail {

namespace {
// waitid's idtype for a pidfd (Linux 5.4); not in every libc's headers.
constexpr idtype_t p_pidfd = static_cast<idtype_t>(3);
}  // namespace

struct process_state {
    explicit process_state(pid_t p, io_handle fd) : pid(p), pidfd(fd) {}

    const pid_t pid;
    const io_handle pidfd;  // closed once the child is reaped

    std::mutex mutex;
    std::optional<int> returncode;
    std::vector<future<void>> waiters;  // wait() calls, woken when reaped

    // Under the mutex: reaps the child if it has exited. True once reaped.
    bool try_reap_locked(int fd) {
        if (returncode) return true;
        siginfo_t info{};
        if (::waitid(p_pidfd, static_cast<id_t>(fd), &info, WEXITED | WNOHANG) < 0) {
            if (errno == ECHILD) {
                // Reaped behind our back (a SIGCHLD handler calling
                // waitpid(-1)): the status is lost. asyncio reports 255.
                returncode = 255;
                return true;
            }
            return false;
        }
        if (info.si_pid == 0) return false;  // still running
        returncode = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
        return true;
    }
};

namespace {

// Reaps a child the loop can no longer watch (it is shutting down), on a
// thread of its own that blocks until the child ends.
void reap_in_background(int pidfd) {
    std::thread([pidfd] {
        siginfo_t info{};
        while (::waitid(p_pidfd, static_cast<id_t>(pidfd), &info, WEXITED) < 0 && errno == EINTR) {
        }
        ::close(pidfd);
    }).detach();
}

// The child's watcher: waits for the pidfd to become readable (the child
// exited), reaps it, closes the pidfd and wakes every wait().
task<void> watch(std::shared_ptr<process_state> st) {
    struct handoff {
        process_state* s;
        bool reaped = false;
        ~handoff() {
            if (!reaped) {
                // Cancelled (the runner shuts down) before the child ended.
                int fd = s->pidfd.entry->detach(s->pidfd.gen);
                if (fd >= 0) reap_in_background(fd);
            }
        }
    } guard{st.get()};
    for (;;) {
        bool reaped = false;
        io_attempt a = try_io(st->pidfd, io_dir::read, [&](int fd) -> ssize_t {
            std::lock_guard lock(st->mutex);
            reaped = st->try_reap_locked(fd);
            if (reaped) return 0;
            errno = EAGAIN;
            return -1;
        });
        if (a.again) {
            if (co_await io_wait(st->pidfd, io_dir::read, a.seq)) continue;
        }
        if (!reaped && !a.closed) continue;  // a spurious error: look again
        guard.reaped = true;
        std::vector<future<void>> wake;
        {
            std::lock_guard lock(st->mutex);
            wake.swap(st->waiters);
        }
        st->pidfd.entry->close(st->pidfd.gen);
        for (auto& f : wake)
            f.try_set_result();
        co_return;
    }
}

task<int> wait_op(std::shared_ptr<process_state> st) {
    future<void> done;
    {
        std::lock_guard lock(st->mutex);
        if (st->returncode) co_return *st->returncode;
        st->waiters.push_back(done);
    }
    co_await done;  // cancelling cancels only this waiter's future
    std::lock_guard lock(st->mutex);
    co_return *st->returncode;
}

task<std::string> feed_stdin(std::optional<stream_writer> w, std::optional<std::string> input) {
    if (!w) co_return std::string();
    try {
        if (input && !input->empty()) {
            w->write(*input);
            co_await w->drain();
        }
    } catch (const connection_error&) {
        // The child exited without reading everything: asyncio ignores
        // BrokenPipeError and ConnectionResetError here.
    }
    w->close();
    co_return std::string();
}

task<std::string> read_to_end(std::optional<stream_reader> r) {
    if (!r) co_return std::string();
    co_return co_await r->read();
}

task<std::pair<std::string, std::string>> communicate_op(std::shared_ptr<process_state> st,
                                                         std::optional<stream_writer> in,
                                                         std::optional<stream_reader> out_pipe,
                                                         std::optional<stream_reader> err_pipe,
                                                         std::optional<std::string> input) {
    auto [ignored, out, err] =
        co_await gather(feed_stdin(std::move(in), std::move(input)),
                        read_to_end(std::move(out_pipe)), read_to_end(std::move(err_pipe)));
    (void)ignored;
    co_await wait_op(st);
    co_return std::pair{std::move(out), std::move(err)};
}

// An fd the child's dup2 cannot clobber: not 0, 1 or 2.
int above_stdio(int fd) {
    if (fd > 2) return fd;
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    ::close(fd);
    if (moved < 0) throw std::system_error(err, std::generic_category(), "weft: fcntl");
    return moved;
}

// Closes the fds it holds unless released.
struct fd_set_guard {
    std::vector<int> fds;
    ~fd_set_guard() {
        for (int fd : fds)
            ::close(fd);
    }
    int add(int fd) {
        fds.push_back(fd);
        return fd;
    }
    void release(int fd) { std::erase(fds, fd); }
};

struct spawn_guard {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    spawn_guard() {
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawnattr_init(&attr);
    }
    ~spawn_guard() {
        ::posix_spawn_file_actions_destroy(&actions);
        ::posix_spawnattr_destroy(&attr);
    }
};

}  // namespace

}  // namespace detail

// ---- process

process::process(std::shared_ptr<detail::process_state> s) : s_(std::move(s)) {}

detail::process_state& process::state() const {
    if (!s_)
        throw std::logic_error("weft::process: no process (default-constructed or moved from)");
    return *s_;
}

int process::pid() const {
    return state().pid;
}

std::optional<int> process::returncode() const {
    detail::process_state& st = state();
    std::lock_guard lock(st.mutex);
    return st.returncode;
}

task<int> process::wait() {
    state();
    return detail::wait_op(s_);
}

task<std::pair<std::string, std::string>> process::communicate(std::optional<std::string> input) {
    state();
    if (input && !std_in) {
        throw std::logic_error("weft::process::communicate: input given but std_in is not a pipe");
    }
    return detail::communicate_op(s_, std_in, std_out, std_err, std::move(input));
}

void process::send_signal(int sig) {
    detail::process_state& st = state();
    std::lock_guard lock(st.mutex);
    if (st.returncode) return;  // reaped: there is nobody to signal
    if (!st.pidfd.entry->begin_op(st.pidfd.gen)) return;
    long r = ::syscall(SYS_pidfd_send_signal, st.pidfd.entry->fd(), sig, nullptr, 0);
    int err = errno;
    st.pidfd.entry->end_op();
    if (r < 0 && err != ESRCH) {
        throw std::system_error(err, std::generic_category(),
                                "weft::process::send_signal(" + std::to_string(sig) + ")");
    }
}

void process::terminate() {
    send_signal(SIGTERM);
}

void process::kill() {
    send_signal(SIGKILL);
}

// ---- creating

namespace detail {
namespace {

// subprocess_options with what it views copied.
struct spawn_request {
    std::vector<std::string> argv;
    stdio modes[3];
    std::string cwd;
    std::optional<std::vector<std::string>> env;
    std::size_t limit;
};

task<process> spawn(spawn_request req) {
    std::vector<std::string>& argv = req.argv;
    const std::string what = "weft::create_subprocess_exec('" + argv[0] + "')";
    auto fail = [&](int err, const char* step) {
        throw std::system_error(err, std::generic_category(), what + ": " + step);
    };

    fd_set_guard fds;  // every fd made here, closed unless handed on
    spawn_guard sp;
    int devnull = -1;
    int ours[3] = {-1, -1, -1};
    const stdio* modes = req.modes;
    for (int target = 0; target < 3; ++target) {
        switch (modes[target]) {
            case stdio::inherit:
                break;
            case stdio::devnull:
                if (devnull < 0) {
                    int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
                    if (fd < 0) fail(errno, "open /dev/null");
                    devnull = fds.add(above_stdio(fd));
                }
                ::posix_spawn_file_actions_adddup2(&sp.actions, devnull, target);
                break;
            case stdio::pipe: {
                int p[2];
                if (::pipe2(p, O_CLOEXEC) < 0) fail(errno, "pipe2");
                int r = fds.add(above_stdio(p[0]));
                int w = fds.add(above_stdio(p[1]));
                int child = target == 0 ? r : w;
                ours[target] = target == 0 ? w : r;
                ::fcntl(ours[target], F_SETFL, O_NONBLOCK);
                ::posix_spawn_file_actions_adddup2(&sp.actions, child, target);
                break;
            }
            case stdio::to_stdout:
                ::posix_spawn_file_actions_adddup2(&sp.actions, 1, 2);
                break;
        }
    }
    if (!req.cwd.empty()) ::posix_spawn_file_actions_addchdir_np(&sp.actions, req.cwd.c_str());
    // The child starts with no signal blocked and SIGPIPE (which the program
    // may ignore) at its default, as Python's restore_signals does.
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGXFSZ);
    ::posix_spawnattr_setsigmask(&sp.attr, &none);
    ::posix_spawnattr_setsigdefault(&sp.attr, &defaults);
    ::posix_spawnattr_setflags(&sp.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<char*> args;
    for (std::string& a : argv)
        args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<char*> env;
    char** envp = environ;
    if (req.env) {
        for (std::string& e : *req.env)
            env.push_back(e.data());
        env.push_back(nullptr);
        envp = env.data();
    }

    pid_t pid = -1;
    bool path_search = argv[0].find('/') == std::string::npos;
    int rc = path_search ? ::posix_spawnp(&pid, args[0], &sp.actions, &sp.attr, args.data(), envp)
                         : ::posix_spawn(&pid, args[0], &sp.actions, &sp.attr, args.data(), envp);
    if (rc != 0) fail(rc, "cannot start it");

    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
        int err = errno;
        // Without a pidfd we cannot watch it: do not leave it running or a zombie.
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        fail(err, "pidfd_open (Linux 5.3 or later is required)");
    }
    auto st = std::make_shared<process_state>(pid, io_entry::open(pidfd));
    process p(st);
    if (ours[0] >= 0) {
        fds.release(ours[0]);
        p.std_in.emplace(fd_transport::from_pipe(ours[0]));
    }
    if (ours[1] >= 0) {
        fds.release(ours[1]);
        p.std_out.emplace(fd_transport::from_pipe(ours[1]), req.limit);
    }
    if (ours[2] >= 0) {
        fds.release(ours[2]);
        p.std_err.emplace(fd_transport::from_pipe(ours[2]), req.limit);
    }
    // The child's ends and /dev/null close here (fds' destructor).
    create_task(watch(st), "weft.io.child " + std::to_string(pid));
    co_return p;
}

}  // namespace
}  // namespace detail

task<process> create_subprocess_exec(std::vector<std::string> argv, subprocess_options options) {
    if (argv.empty()) throw std::invalid_argument("weft::create_subprocess_exec: empty argv");
    if (options.std_in == stdio::to_stdout || options.std_out == stdio::to_stdout) {
        throw std::invalid_argument(
            "weft::create_subprocess_exec: stdio::to_stdout is only for std_err");
    }
    detail::spawn_request req{std::move(argv),
                              {options.std_in, options.std_out, options.std_err},
                              std::string(options.cwd),
                              std::nullopt,
                              options.limit};
    if (options.env) req.env.emplace(options.env->begin(), options.env->end());
    return detail::spawn(std::move(req));
}

task<process> create_subprocess_shell(std::string command, subprocess_options options) {
    return create_subprocess_exec({"/bin/sh", "-c", std::move(command)}, options);
}

}  // namespace weft
