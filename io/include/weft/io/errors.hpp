// The exceptions weft::io raises, next to asyncio's.
//
// System calls that fail raise std::system_error (asyncio's OSError) with the
// errno as its code and a message naming the operation ("weft::sock_recv:
// Connection reset by peer"). The connection errors (reset, refused,
// aborted, broken pipe) raise connection_error, a std::system_error, like
// Python's ConnectionError family, so that a server can catch exactly the
// failures a peer causes.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace weft {

// ConnectionError (ConnectionResetError, ConnectionRefusedError,
// ConnectionAbortedError, BrokenPipeError): code() says which.
class connection_error : public std::system_error {
public:
    using std::system_error::system_error;
};

// The socket, pipe or stream was closed by this process, before or during
// the operation (a read pending when another task closes the socket raises
// this). code() is errc::bad_file_descriptor, as Python's OSError(EBADF).
class closed_error : public std::system_error {
public:
    explicit closed_error(const std::string& what)
        : std::system_error(std::make_error_code(std::errc::bad_file_descriptor), what) {}
};

// asyncio.IncompleteReadError: the stream ended before readexactly(n) or
// readuntil(sep) was satisfied. partial() holds the bytes read before the end.
class incomplete_read_error : public std::runtime_error {
public:
    incomplete_read_error(std::string partial, std::optional<std::size_t> expected)
        : std::runtime_error(message(partial.size(), expected)),
          partial_(std::move(partial)),
          expected_(expected) {}
    const std::string& partial() const noexcept { return partial_; }
    // The count readexactly asked for; empty for readuntil.
    std::optional<std::size_t> expected() const noexcept { return expected_; }

private:
    static std::string message(std::size_t got, std::optional<std::size_t> expected) {
        return std::to_string(got) + " bytes read on a total of " +
               (expected ? std::to_string(*expected) : std::string("undefined")) +
               " expected bytes";
    }
    std::string partial_;
    std::optional<std::size_t> expected_;
};

// asyncio.LimitOverrunError: readuntil() found no separator within the
// reader's limit (or found it beyond). consumed() is how many bytes may be
// skipped; they are still in the buffer.
class limit_overrun_error : public std::runtime_error {
public:
    limit_overrun_error(const std::string& message, std::size_t consumed)
        : std::runtime_error(message), consumed_(consumed) {}
    std::size_t consumed() const noexcept { return consumed_; }

private:
    std::size_t consumed_;
};

// socket.gaierror: name resolution failed. code() is getaddrinfo's EAI_*.
class resolve_error : public std::runtime_error {
public:
    resolve_error(int code, const std::string& message)
        : std::runtime_error(message), code_(code) {}
    int code() const noexcept { return code_; }

private:
    int code_;
};

namespace detail {
// Throws connection_error for the connection errnos, else std::system_error:
// "<what>: <strerror(err)>".
[[noreturn]] void throw_io_error(const char* what, int err);
[[noreturn]] void throw_closed(const char* what);
}  // namespace detail

}  // namespace weft
