// The fork server: its process (server_main), and the pool's side of it.
// See fork_server.hpp for the process tree and the framing.
#include "fork_server.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace weft::detail {

[[noreturn]] void worker_main(int fd, pid_t server);  // process_worker.cpp

bool send_message(int fd, const wire_header& h, const char* payload) {
    std::size_t first = std::min<std::size_t>(h.size, wire_chunk - sizeof h);
    iovec iov[2] = {{const_cast<wire_header*>(&h), sizeof h}, {const_cast<char*>(payload), first}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = first > 0 ? 2 : 1;
    for (;;) {
        if (::sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0) break;
        if (errno != EINTR) return false;
    }
    for (std::size_t at = first; at < h.size;) {
        std::size_t n = std::min(wire_chunk, h.size - at);
        ssize_t r = ::send(fd, payload + at, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        at += n;
    }
    return true;
}

namespace {

bool send_with_fd(int sock, const wire_header& h, int fd) {
    iovec iov{const_cast<wire_header*>(&h), sizeof h};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        cmsghdr align;
    } control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    for (;;) {
        if (::sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0) return true;
        if (errno != EINTR) return false;
    }
}

void reply(int ctl, wire_kind kind, std::uint64_t a, std::uint64_t b) {
    wire_header h{kind, 0, 0, a, b};
    send_message(ctl, h, nullptr);
}

void sleep_ns(long ns) {
    timespec ts{0, ns};
    ::nanosleep(&ts, nullptr);
}

// Waits for `pid` (a child that the pool saw go: it is exiting). A worker
// that closed its socket and went on living gets a second or so, then is
// killed: the pool has already given up on it.
int reap_child(pid_t pid) {
    int status = 0;
    for (int i = 0; i < 20'000; ++i) {  // 20,000 x 50 µs: about a second
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
        sleep_ns(50'000);
    }
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return status;
}

void kill_all(std::vector<pid_t>& kids) {
    for (pid_t k : kids)
        ::kill(k, SIGKILL);
    int status;
    for (pid_t k : kids) {
        while (::waitpid(k, &status, 0) < 0 && errno == EINTR) {
        }
    }
    kids.clear();
}

// The server process. Only system calls and a vector whose room was made
// before the fork: the pool's process may have had other threads, holding
// locks that this copy of it must not wait for.
[[noreturn]] void server_main(int ctl, std::vector<pid_t>& kids) {
    ::setpgid(0, 0);  // out of the terminal's foreground group (see the header)
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGCHLD, &dfl, nullptr);  // waitpid must see our children end
    // Keep stdio (workers print there) and ctl, as fd 3; nothing else of the
    // pool's process (its sockets, its other pools' workers) may leak into
    // the workers.
    if (ctl != 3) {
        ::dup2(ctl, 3);
        ::close(ctl);
        ctl = 3;
    }
    ::close_range(4, ~0u, 0);

    for (;;) {
        wire_header h;
        ssize_t n = ::recv(ctl, &h, sizeof h, 0);
        if (n == 0) break;  // the pool's process closed ctl, or is gone
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (static_cast<std::size_t>(n) != sizeof h) continue;
        switch (h.kind) {
            case wire_kind::spawn: {
                if (kids.size() == kids.capacity()) {
                    reply(ctl, wire_kind::failed, EAGAIN, 0);
                    break;
                }
                int sv[2];
                if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                    reply(ctl, wire_kind::failed, static_cast<std::uint64_t>(errno), 0);
                    break;
                }
                pid_t server = ::getpid();
                pid_t pid = ::fork();
                if (pid == 0) {
                    ::close(ctl);
                    ::close(sv[0]);
                    worker_main(sv[1], server);
                }
                int err = errno;
                ::close(sv[1]);
                if (pid < 0) {
                    ::close(sv[0]);
                    reply(ctl, wire_kind::failed, static_cast<std::uint64_t>(err), 0);
                    break;
                }
                kids.push_back(pid);
                send_with_fd(
                    ctl, wire_header{wire_kind::spawned, 0, 0, static_cast<std::uint64_t>(pid), 0},
                    sv[0]);
                ::close(sv[0]);
                break;
            }
            case wire_kind::reap: {
                auto pid = static_cast<pid_t>(h.a);
                int status = -1;
                for (std::size_t i = 0; i < kids.size(); ++i) {
                    if (kids[i] == pid) {
                        status = reap_child(pid);
                        kids[i] = kids.back();
                        kids.pop_back();
                        break;
                    }
                }
                reply(ctl, wire_kind::reaped, h.a, static_cast<std::uint64_t>(status));
                break;
            }
            case wire_kind::quit:
                kill_all(kids);
                reply(ctl, wire_kind::done, 0, 0);
                ::_exit(0);
            default:
                break;
        }
    }
    kill_all(kids);
    ::_exit(0);
}

}  // namespace

fork_server::fork_server(std::size_t max_children) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        throw std::system_error(errno, std::generic_category(),
                                "weft::process_pool_executor: socketpair");
    }
    // Room for every child the server may have at once (live workers, and
    // dead ones the pool has not asked it to reap yet), made here: the
    // server does not allocate.
    std::vector<pid_t> kids;
    kids.reserve(max_children * 2 + 16);
    // Buffered output not yet written would be written again by each worker.
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) {
        int err = errno;
        ::close(sv[0]);
        ::close(sv[1]);
        throw std::system_error(err, std::generic_category(),
                                "weft::process_pool_executor: fork of the fork server");
    }
    if (pid == 0) {
        ::close(sv[0]);
        server_main(sv[1], kids);
    }
    ::close(sv[1]);
    fd_ = sv[0];
    pid_ = pid;
}

fork_server::~fork_server() {
    quit();
}

bool fork_server::running() const noexcept {
    std::lock_guard lock(m_);
    return !gone_;
}

bool fork_server::call(const wire_header& request, wire_header& out, int* fd_out) {
    if (gone_) return false;
    if (!send_message(fd_, request, nullptr)) {
        gone_ = true;
        return false;
    }
    iovec iov{&out, sizeof out};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        cmsghdr align;
    } control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t n;
    do {
        n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof out)) {
        gone_ = true;
        return false;
    }
    if (fd_out != nullptr) {
        *fd_out = -1;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                std::memcpy(fd_out, CMSG_DATA(c), sizeof(int));
            }
        }
    }
    return true;
}

fork_server::child fork_server::spawn() {
    std::lock_guard lock(m_);
    wire_header out{};
    int fd = -1;
    if (!call(wire_header{wire_kind::spawn, 0, 0, 0, 0}, out, &fd)) {
        throw std::system_error(EPIPE, std::generic_category(),
                                "weft::process_pool_executor: the fork server is gone");
    }
    if (out.kind != wire_kind::spawned || fd < 0) {
        if (fd >= 0) ::close(fd);
        int err = out.kind == wire_kind::failed ? static_cast<int>(out.a) : EPROTO;
        throw std::system_error(err, std::generic_category(),
                                "weft::process_pool_executor: starting a worker process");
    }
    return child{static_cast<pid_t>(out.a), fd};
}

int fork_server::reap(pid_t pid) {
    std::lock_guard lock(m_);
    wire_header out{};
    if (!call(wire_header{wire_kind::reap, 0, 0, static_cast<std::uint64_t>(pid), 0}, out,
              nullptr)) {
        return -1;
    }
    return out.kind == wire_kind::reaped ? static_cast<int>(out.b) : -1;
}

void fork_server::quit() noexcept {
    std::lock_guard lock(m_);
    if (pid_ < 0) return;
    wire_header out{};
    call(wire_header{wire_kind::quit, 0, 0, 0, 0}, out, nullptr);
    gone_ = true;
    ::close(fd_);  // if the quit did not get through, this makes the server exit
    fd_ = -1;
    reap_server();
}

void fork_server::reap_server() noexcept {
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    // ECHILD: the program reaped it itself (a SIGCHLD handler); it is gone.
    pid_ = -1;
}

std::string describe_wait_status(int status) {
    if (status == -1) return "ended (its exit status is unknown)";
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char* abbrev = ::sigabbrev_np(sig);
        std::string out = "was killed by signal " + std::to_string(sig);
        if (abbrev != nullptr) out += std::string(" (SIG") + abbrev + ")";
        return out;
    }
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    return "ended with wait status " + std::to_string(status);
}

}  // namespace weft::detail
