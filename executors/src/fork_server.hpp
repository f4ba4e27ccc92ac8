// The fork server of a process pool, and the framing on its sockets.
//
// Process tree:   this process --ctl--> fork server --fork--> workers
//                      \______________ one socketpair each ______/
//
// The pool forks the server once, when it is created; from then on the server
// is a single-threaded process that only makes system calls, so forking it
// again (for each worker) never copies a lock some other thread held: the
// workers start clean even when the pool's process has many threads by then.
// The server hands each new worker's socket back over `ctl` (SCM_RIGHTS), is
// the workers' parent (it reaps them, and tells the pool how each ended), and
// takes them all down when the pool's process closes `ctl` or goes away, so
// that neither zombies nor orphans are left. It runs in a process group of its
// own: a Ctrl-C at the terminal is for the program, which decides.
//
// All sockets are AF_UNIX SOCK_SEQPACKET: every send is one message, read
// whole. A call or a reply is one header message, its payload's first bytes
// included, then as many continuation messages as the rest of the payload
// needs, each at most wire_chunk bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include <sys/types.h>

namespace weft::detail {

inline constexpr std::size_t wire_chunk = 64 * 1024;

enum class wire_kind : std::uint32_t {
    // pool -> worker
    call = 1,  // a: invoker address or registry index, b: function address
    // worker -> pool
    value = 2,  // payload: the encoded result
    error = 3,  // payload: mangled type, demangled type, message (strings)
    // pool -> server
    spawn = 10,
    reap = 11,  // a: pid
    quit = 12,
    // server -> pool
    spawned = 20,  // a: pid, with the worker's socket attached
    reaped = 21,   // a: pid, b: wait status (or -1: unknown)
    failed = 22,   // a: errno
    done = 23,     // quit acknowledged
};

inline constexpr std::uint32_t call_named = 1;  // flags: `a` is a registry index

struct wire_header {
    wire_kind kind;
    std::uint32_t flags;
    std::uint64_t size;  // payload bytes in all
    std::uint64_t a;
    std::uint64_t b;
};

// Sends header + payload as SEQPACKET messages, retrying on EINTR; false on
// an error (the peer gone: errno says which).
bool send_message(int fd, const wire_header& h, const char* payload);

// The pool's side of its fork server.
class fork_server {
public:
    // Forks the server. `max_children` bounds the live workers it keeps
    // track of. Raises std::system_error.
    explicit fork_server(std::size_t max_children);
    // quit(), if not done yet.
    ~fork_server();
    fork_server(const fork_server&) = delete;
    fork_server& operator=(const fork_server&) = delete;

    struct child {
        pid_t pid;
        int fd;  // the pool's end of the worker's socket (close-on-exec)
    };
    // Forks a worker. Raises std::system_error (the server's errno, or the
    // server gone).
    child spawn();
    // Waits for `pid` to end and returns its wait status; -1 if unknown (the
    // server is gone, or it never had that child).
    int reap(pid_t pid);
    // Kills and reaps every worker, then the server exits and is reaped.
    // Idempotent. No worker pid may be signalled afterwards (it can be reused).
    void quit() noexcept;
    bool running() const noexcept;
    pid_t pid() const noexcept { return pid_; }

private:
    // One request and its reply, under m_. False if the server is gone.
    bool call(const wire_header& request, wire_header& reply, int* fd_out);
    void reap_server() noexcept;

    mutable std::mutex m_;
    int fd_ = -1;
    pid_t pid_ = -1;
    bool gone_ = false;
};

// "killed by signal 11 (SIGSEGV)" / "exited with status 3".
std::string describe_wait_status(int status);

}  // namespace weft::detail
