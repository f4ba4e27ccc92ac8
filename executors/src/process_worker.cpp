// A worker process of a process pool: forked by the fork server, it runs one
// call at a time for the pool and answers with the result or the exception.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/executors/remote_function.hpp>

#include "fork_server.hpp"
#include "remote.hpp"

namespace weft::detail {

namespace {

// Reads one call (header, then continuation messages) into `payload`; false
// at end of file (the pool closed our socket: time to go) or on an error.
bool receive_call(int fd, wire_header& h, std::string& payload) {
    std::string buf(wire_chunk, '\0');
    ssize_t n;
    do {
        n = ::recv(fd, buf.data(), buf.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n < static_cast<ssize_t>(sizeof h)) return false;
    std::memcpy(&h, buf.data(), sizeof h);
    payload.assign(buf.data() + sizeof h, static_cast<std::size_t>(n) - sizeof h);
    while (payload.size() < h.size) {
        do {
            n = ::recv(fd, buf.data(), buf.size(), 0);
        } while (n < 0 && errno == EINTR);
        if (n <= 0) return false;
        payload.append(buf.data(), static_cast<std::size_t>(n));
    }
    return payload.size() == h.size;
}

}  // namespace

[[noreturn]] void worker_main(int fd, pid_t server) {
    // Die with the fork server (our parent, a single thread), and check it
    // did not go before we said so.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != server) ::_exit(0);

    wire_header h;
    std::string payload;
    while (receive_call(fd, h, payload)) {
        byte_writer out;
        wire_kind kind = wire_kind::value;
        try {
            if (h.kind != wire_kind::call) throw std::logic_error("weft: worker got a bad message");
            remote_invoker invoke;
            std::uintptr_t fn;
            if (h.flags & call_named) {
                const function_entry* e = function_at(static_cast<std::uint32_t>(h.a));
                if (e == nullptr) {
                    throw std::invalid_argument(
                        "weft::process_pool_executor: the worker has no function #" +
                        std::to_string(h.a) + " (registered after the pool was created?)");
                }
                invoke = e->invoke;
                fn = e->fn;
            } else {
                invoke = reinterpret_cast<remote_invoker>(h.a);
                fn = static_cast<std::uintptr_t>(h.b);
            }
            byte_reader args(payload.data(), payload.size());
            invoke(fn, args, out);
        } catch (...) {
            kind = wire_kind::error;
            out.bytes().clear();
            encode_current_exception(out);
        }
        // What the function printed goes out before its result arrives; and
        // _exit, our only way out, flushes nothing.
        std::fflush(nullptr);
        const std::string& bytes = out.bytes();
        if (!send_message(fd, wire_header{kind, 0, bytes.size(), 0, 0}, bytes.data())) break;
    }
    std::fflush(nullptr);
    ::_exit(0);
}

}  // namespace weft::detail
