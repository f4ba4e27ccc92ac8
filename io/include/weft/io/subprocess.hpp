// Subprocesses with pipes (asyncio.create_subprocess_exec / _shell).
//
//     weft::process p = co_await weft::create_subprocess_exec(
//         {"grep", "-c", "x"}, {.std_in = weft::stdio::pipe, .std_out = weft::stdio::pipe});
//     auto [out, err] = co_await p.communicate("x\ny\nx\n");   // out == "2\n"
//     int code = co_await p.wait();                             // 0
//
//     weft::process ls = co_await weft::create_subprocess_exec(
//         {"ls", "-l"}, {.std_out = weft::stdio::pipe});
//     for (std::string line; !(line = co_await ls.std_out->readline()).empty();)
//         std::printf("%s", line.c_str());
//
// The child starts with posix_spawn (argv[0] is looked up in PATH unless it
// has a '/'), an empty signal mask and SIGPIPE at its default action. Its
// exit is observed through a pidfd on the loop's epoll (Linux 5.3 and
// later), by a small task that reaps it as soon as it exits, whether or not
// anyone calls wait(): no zombie is left behind, and no thread blocks in
// waitpid. A process still running when the loop shuts down is handed to a
// thread that reaps it when it ends. Destroying the weft::process does not
// kill the child, as in asyncio.
//
// Pipes are weft streams: std_in is a stream_writer, std_out and std_err
// are stream_readers. Writing to a pipe whose reader has exited raises
// connection_error (EPIPE, asyncio's BrokenPipeError). SIGPIPE's
// disposition is left as the program set it: the write blocks the signal on
// its own thread for the call and consumes the one it raised.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/io/stream.hpp>
#include <weft/task.hpp>

namespace weft {

namespace detail {
struct process_state;
}

// Where a child's standard stream goes (asyncio.subprocess.PIPE, DEVNULL,
// STDOUT; inherit is asyncio's None).
enum class stdio {
    inherit,    // the parent's own
    pipe,       // a pipe to a weft stream
    devnull,    // /dev/null
    to_stdout,  // std_err only: wherever std_out goes (asyncio's STDOUT)
};

// Views only, read when create_subprocess_exec is called: with GCC 12 an
// aggregate holding a std::string, built in braces inside a co_await
// expression, is destroyed twice (a compiler bug; see docs/io.md), and this
// is written exactly that way: `co_await create_subprocess_exec(argv,
// {.std_out = weft::stdio::pipe, .cwd = "/tmp"})`.
struct subprocess_options {
    stdio std_in = stdio::inherit;
    stdio std_out = stdio::inherit;
    stdio std_err = stdio::inherit;
    std::string_view cwd{};  // empty: the parent's
    // "NAME=value" each; nullopt: the parent's environment.
    std::optional<std::span<const std::string>> env{};
    std::size_t limit = default_stream_limit;  // the pipe readers' limit
};

class process {
public:
    process() noexcept = default;
    explicit process(std::shared_ptr<detail::process_state> s);
    process(process&&) noexcept = default;
    process& operator=(process&&) noexcept = default;

    int pid() const;
    // The exit status once the child has been reaped: the exit code, or
    // minus the signal that killed it (Python's convention); empty before.
    std::optional<int> returncode() const;
    // Waits for the child to exit; returns returncode(). Cancellable: the
    // child goes on and is still reaped.
    task<int> wait();
    // Writes `input` to std_in (which must be a pipe if input is given) and
    // closes it, reads std_out and std_err to their end, waits for the
    // child, and returns what the two pipes gave ("" for one that is not a
    // pipe). A broken stdin pipe (the child exited early) is ignored, as
    // asyncio does. Unlike asyncio, std_in is closed even with no input.
    task<std::pair<std::string, std::string>> communicate(
        std::optional<std::string> input = std::nullopt);
    // Signals the child (through its pidfd: never a recycled pid); nothing
    // once it has been reaped.
    void send_signal(int sig);
    void terminate();  // SIGTERM
    void kill();       // SIGKILL

    // The pipes, when asked for (asyncio's proc.stdin / stdout / stderr).
    std::optional<stream_writer> std_in;
    std::optional<stream_reader> std_out;
    std::optional<stream_reader> std_err;

    explicit operator bool() const noexcept { return s_ != nullptr; }

private:
    detail::process_state& state() const;
    std::shared_ptr<detail::process_state> s_;
};

// asyncio.create_subprocess_exec. Raises std::system_error naming the
// program if it cannot be started (ENOENT: not found), std::invalid_argument
// for an empty argv or a misplaced stdio::to_stdout. `options` is copied
// when this is called. (With GCC 12 build argv before the co_await: a braced
// list inside a co_await expression does not compile, "array used as
// initializer".)
task<process> create_subprocess_exec(std::vector<std::string> argv,
                                     subprocess_options options = {});
// asyncio.create_subprocess_shell: `/bin/sh -c command`.
task<process> create_subprocess_shell(std::string command, subprocess_options options = {});

}  // namespace weft
