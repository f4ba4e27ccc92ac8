// socket_address: an IPv4, IPv6 or Unix-domain address (what asyncio passes
// around as ('127.0.0.1', 8080) tuples or path strings).
//
//     auto a = weft::socket_address::ip("127.0.0.1", 8080);
//     auto b = weft::socket_address::ip("::1", 8080);
//     auto c = weft::socket_address::unix_path("/tmp/app.sock");
//     a.host(), a.port(), c.path(), a.to_string()   // "127.0.0.1", 8080, ..., "127.0.0.1:8080"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <sys/socket.h>

namespace weft {

class socket_address {
public:
    // AF_UNSPEC: no address.
    socket_address() noexcept = default;
    // A copy of `len` bytes at `sa` (what accept, getsockname, recvfrom give).
    socket_address(const sockaddr* sa, socklen_t len);

    // A numeric IPv4 or IPv6 address (no name lookup: see getaddrinfo).
    // Raises std::invalid_argument for anything else. An IPv6 scope may
    // follow a '%' ("fe80::1%eth0").
    static socket_address ip(std::string_view host, std::uint16_t port);
    // A Unix-domain socket path; a leading '\0' makes it an abstract name.
    // Raises std::invalid_argument if it is too long.
    static socket_address unix_path(std::string_view path);

    int family() const noexcept { return storage_.ss_family; }
    bool is_ip() const noexcept { return family() == AF_INET || family() == AF_INET6; }
    // The numeric host of an IP address ("127.0.0.1", "::1"); empty otherwise.
    std::string host() const;
    // The port of an IP address; 0 otherwise.
    std::uint16_t port() const noexcept;
    // The path of a Unix-domain address (may start with '\0'); empty otherwise.
    std::string path() const;
    // "127.0.0.1:8080", "[::1]:8080", "/tmp/app.sock", "@abstract", "<unspecified>".
    std::string to_string() const;

    const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
    socklen_t size() const noexcept { return len_; }
    // For filling in by a syscall: capacity in, actual length out.
    socklen_t* size_ptr() noexcept { return &len_; }
    static constexpr socklen_t capacity = sizeof(sockaddr_storage);

    bool operator==(const socket_address& o) const noexcept;

private:
    sockaddr_storage storage_{};
    socklen_t len_ = 0;
};

}  // namespace weft
