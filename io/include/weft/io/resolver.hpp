// Name resolution without blocking a loop: getaddrinfo and getnameinfo run
// on a small pool of threads for blocking calls, and the awaiting task is
// woken when they return (asyncio's loop.getaddrinfo, which uses the default
// executor). Numeric addresses ("127.0.0.1", "::1") are answered at once,
// with no thread, as asyncio does.
//
//     for (const weft::address_info& ai : co_await weft::getaddrinfo("example.com", "443"))
//         std::printf("%s\n", ai.address.to_string().c_str());
//
// Failures raise weft::resolve_error (socket.gaierror) with getaddrinfo's
// EAI_* code. Cancelling the awaiting task abandons the lookup (the thread
// finishes it and drops the answer).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <weft/io/address.hpp>
#include <weft/io/errors.hpp>
#include <weft/task.hpp>

namespace weft {

// One answer of getaddrinfo (Python's (family, type, proto, canonname, sockaddr)).
struct address_info {
    int family = 0;
    int type = 0;
    int protocol = 0;
    std::string canonname;
    socket_address address;
};

// `host` empty means "no host" (with AI_PASSIVE: the wildcard address, else
// loopback); `service` is a port number or a service name. `family`,
// `type`, `protocol` and `flags` are getaddrinfo's hints (AF_UNSPEC, 0 for
// any type, AI_* flags).
task<std::vector<address_info>> getaddrinfo(std::string host, std::string service, int family = 0,
                                            int type = 0, int protocol = 0, int flags = 0);
task<std::vector<address_info>> getaddrinfo(std::string host, std::uint16_t port, int family = 0,
                                            int type = 0, int protocol = 0, int flags = 0);

// The host and service names of `address` (NI_* flags).
task<std::pair<std::string, std::string>> getnameinfo(socket_address address, int flags = 0);

}  // namespace weft
