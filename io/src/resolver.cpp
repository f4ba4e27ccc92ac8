// getaddrinfo / getnameinfo: numeric answers at once, names on the pool of
// blocking threads (blocking_pool.hpp).
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <weft/io/resolver.hpp>

#include "blocking_pool.hpp"

namespace weft {

namespace {

[[noreturn]] void gai_fail(int code, const std::string& what) {
    if (code == EAI_SYSTEM) {
        throw std::system_error(errno, std::generic_category(), what);
    }
    throw resolve_error(code, what + ": " + ::gai_strerror(code));
}

std::string describe_query(const std::string& host, const std::string& service) {
    return "weft::getaddrinfo('" + host + "', '" + service + "')";
}

// The lookup itself, on whatever thread it runs.
std::vector<address_info> lookup(const std::string& host, const std::string& service, int family,
                                 int type, int protocol, int flags) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_protocol = protocol;
    hints.ai_flags = flags;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                           service.empty() ? nullptr : service.c_str(), &hints, &res);
    if (rc != 0) gai_fail(rc, describe_query(host, service));
    std::vector<address_info> out;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        address_info info;
        info.family = ai->ai_family;
        info.type = ai->ai_socktype;
        info.protocol = ai->ai_protocol;
        if (ai->ai_canonname != nullptr) info.canonname = ai->ai_canonname;
        info.address = socket_address(ai->ai_addr, ai->ai_addrlen);
        out.push_back(std::move(info));
    }
    ::freeaddrinfo(res);
    return out;
}

bool is_numeric_port(const std::string& s) {
    if (s.empty() || s.size() > 5) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return std::stoul(s) <= 65535;
}

bool is_numeric_host(const std::string& host) {
    unsigned char buf[sizeof(in6_addr)];
    std::string h = host;
    if (auto pct = h.find('%'); pct != std::string::npos) h.resize(pct);
    return ::inet_pton(AF_INET, h.c_str(), buf) == 1 || ::inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

}  // namespace

task<std::vector<address_info>> getaddrinfo(std::string host, std::string service, int family,
                                            int type, int protocol, int flags) {
    // A numeric host and port need no lookup (asyncio's _ipaddr_info): parse
    // them here, on the loop, with no thread and no file read.
    if (is_numeric_host(host) && is_numeric_port(service) && !(flags & AI_CANONNAME)) {
        socket_address a =
            socket_address::ip(host, static_cast<std::uint16_t>(std::stoul(service)));
        if (family != AF_UNSPEC && family != a.family()) {
            gai_fail(EAI_ADDRFAMILY, describe_query(host, service));
        }
        std::vector<address_info> out;
        auto add = [&](int t, int p) {
            if ((type == 0 || type == t) && (protocol == 0 || protocol == p)) {
                out.push_back(address_info{a.family(), t, p, {}, a});
            }
        };
        add(SOCK_STREAM, IPPROTO_TCP);
        add(SOCK_DGRAM, IPPROTO_UDP);
        if (!out.empty()) co_return out;
    }
    auto job = [host, service, family, type, protocol, flags] {
        return lookup(host, service, family, type, protocol, flags);
    };
    future<std::vector<address_info>> answer =
        detail::start_blocking<std::vector<address_info>>(std::move(job));
    co_return co_await std::move(answer);
}

task<std::vector<address_info>> getaddrinfo(std::string host, std::uint16_t port, int family,
                                            int type, int protocol, int flags) {
    return getaddrinfo(std::move(host), std::to_string(port), family, type, protocol, flags);
}

task<std::pair<std::string, std::string>> getnameinfo(socket_address address, int flags) {
    auto resolve = [address, flags] {
        char host[NI_MAXHOST], serv[NI_MAXSERV];
        int rc = ::getnameinfo(address.data(), address.size(), host, sizeof host, serv, sizeof serv,
                               flags);
        if (rc != 0) gai_fail(rc, "weft::getnameinfo(" + address.to_string() + ")");
        return std::pair<std::string, std::string>{host, serv};
    };
    if ((flags & NI_NUMERICHOST) && (flags & NI_NUMERICSERV)) co_return resolve();
    future<std::pair<std::string, std::string>> answer =
        detail::start_blocking<std::pair<std::string, std::string>>(resolve);
    co_return co_await std::move(answer);
}

}  // namespace weft
