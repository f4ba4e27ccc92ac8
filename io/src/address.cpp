// socket_address.
#include <cstring>
#include <stdexcept>
#include <string>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <weft/io/address.hpp>

namespace weft {

socket_address::socket_address(const sockaddr* sa, socklen_t len) {
    if (len > capacity) throw std::invalid_argument("weft::socket_address: address too long");
    std::memcpy(&storage_, sa, len);
    len_ = len;
}

socket_address socket_address::ip(std::string_view host, std::uint16_t port) {
    socket_address a;
    std::string h(host);
    if (!h.empty() && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
    if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.len_ = sizeof(sockaddr_in);
        return a;
    }
    a.storage_ = {};
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    std::string scope;
    if (auto pct = h.find('%'); pct != std::string::npos) {
        scope = h.substr(pct + 1);
        h.resize(pct);
    }
    if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        if (!scope.empty()) {
            unsigned idx = ::if_nametoindex(scope.c_str());
            if (idx == 0) {
                char* end = nullptr;
                unsigned long n = std::strtoul(scope.c_str(), &end, 10);
                if (end == scope.c_str() || *end != '\0') {
                    throw std::invalid_argument("weft::socket_address::ip: unknown IPv6 scope '" +
                                                scope + "'");
                }
                idx = static_cast<unsigned>(n);
            }
            v6->sin6_scope_id = idx;
        }
        a.len_ = sizeof(sockaddr_in6);
        return a;
    }
    throw std::invalid_argument("weft::socket_address::ip: '" + std::string(host) +
                                "' is not a numeric IPv4 or IPv6 address (use weft::getaddrinfo "
                                "for names)");
}

socket_address socket_address::unix_path(std::string_view path) {
    socket_address a;
    auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
    if (path.empty() || path.size() >= sizeof un->sun_path) {
        throw std::invalid_argument("weft::socket_address::unix_path: the path must have 1 to " +
                                    std::to_string(sizeof un->sun_path - 1) + " bytes, got " +
                                    std::to_string(path.size()));
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    // An abstract name's length is exact; a path's includes its terminator.
    a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                    (path.front() == '\0' ? 0 : 1));
    return a;
}

std::string socket_address::host() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
                    sizeof buf);
    } else if (family() == AF_INET6) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
                    sizeof buf);
    }
    return buf;
}

std::uint16_t socket_address::port() const noexcept {
    if (family() == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (family() == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    }
    return 0;
}

std::string socket_address::path() const {
    if (family() != AF_UNIX) return {};
    const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
    std::size_t n =
        len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
    if (n == 0) return {};  // unnamed (a socketpair end, an unbound client)
    if (un->sun_path[0] == '\0') return std::string(un->sun_path, n);
    return std::string(un->sun_path, ::strnlen(un->sun_path, n));
}

std::string socket_address::to_string() const {
    switch (family()) {
        case AF_INET:
            return host() + ":" + std::to_string(port());
        case AF_INET6:
            return "[" + host() + "]:" + std::to_string(port());
        case AF_UNIX: {
            std::string p = path();
            if (p.empty()) return "<unnamed>";
            if (p.front() == '\0') return "@" + p.substr(1);
            return p;
        }
        default:
            return "<unspecified>";
    }
}

bool socket_address::operator==(const socket_address& o) const noexcept {
    return len_ == o.len_ && std::memcmp(&storage_, &o.storage_, len_) == 0;
}

}  // namespace weft
