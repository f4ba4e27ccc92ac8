// weft::ssl_context: the settings a TLS connection is made with, as Python's
// ssl.SSLContext holds them for asyncio's `ssl=` argument. It wraps an
// OpenSSL 3 SSL_CTX so that most programs never call OpenSSL themselves:
// certificate chain and key, the CAs that verify the peer (a file, a
// directory or the system's store), the verification mode and the ALPN
// protocols offered or accepted. native_handle() reaches the SSL_CTX for
// anything else.
//
// Like Python's create_default_context(), a client context verifies the
// server's certificate against the system's CA store by default; a server
// context asks for no client certificate unless told to.
//
// Every setter checks its input and raises ssl_error naming the call and
// OpenSSL's reason (a missing file, a key that does not match its
// certificate, an ALPN name too long): nothing is left half-configured
// silently. A context is configured first, then shared by connections: its
// setters are not meant to race with connections being made from it.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <weft/tls/errors.hpp>

// OpenSSL's type, declared so that this header does not pull in its headers.
struct ssl_ctx_st;

namespace weft {

// Python's ssl.Purpose: which side of connections the context is for.
enum class ssl_purpose {
    server_auth,  // a client's context: it authenticates servers
    client_auth,  // a server's context: it (optionally) authenticates clients
};

// Python's ssl.VerifyMode.
enum class ssl_verify {
    none,      // CERT_NONE: the peer's certificate is not checked
    optional,  // CERT_OPTIONAL: checked when the peer sends one
    required,  // CERT_REQUIRED: the peer must send a valid one
};

// Python's ssl.TLSVersion, for the two versions weft allows.
enum class tls_version { tls1_2, tls1_3 };

class ssl_context {
public:
    // Python's ssl.create_default_context(purpose): TLS 1.2 at least; for
    // server_auth, verification required against the system's CA store and
    // hostname checking on.
    static ssl_context create_default(ssl_purpose purpose = ssl_purpose::server_auth);

    ssl_context(ssl_context&&) noexcept;
    ssl_context& operator=(ssl_context&&) noexcept;
    ~ssl_context();

    ssl_purpose purpose() const noexcept;

    // SSLContext.load_cert_chain: a PEM certificate chain (leaf first) and
    // its private key; the key may be in the same file (empty keyfile).
    void load_cert_chain(const std::string& certfile, const std::string& keyfile = {});
    // SSLContext.load_verify_locations: CAs from a PEM file and/or a
    // directory of hashed certificates (at least one given).
    void load_verify_locations(const std::string& cafile, const std::string& capath = {});
    // SSLContext.load_default_certs / set_default_verify_paths: the system's
    // CA store.
    void load_default_certs();

    void set_verify_mode(ssl_verify mode);
    ssl_verify verify_mode() const noexcept;
    // SSLContext.check_hostname: a client checks the server's certificate
    // against server_hostname. Turning it on makes verification required.
    void set_check_hostname(bool on);
    bool check_hostname() const noexcept;

    void set_minimum_version(tls_version v);
    void set_maximum_version(tls_version v);

    // SSLContext.set_alpn_protocols: offered by a client in order of
    // preference; a server picks the first of its own list the client
    // offers. Each name is 1 to 255 bytes.
    void set_alpn_protocols(const std::vector<std::string>& protocols);
    const std::vector<std::string>& alpn_protocols() const noexcept;

    // SSLContext.num_tickets: the TLS 1.3 session tickets a server sends
    // after each full handshake (2 by default, as in Python; 0 when no
    // client resumes sessions saves their cost). std::invalid_argument on
    // a client's context, as Python's ValueError.
    void set_num_tickets(std::size_t n);
    std::size_t num_tickets() const noexcept;

    // The SSL_CTX itself, for settings this type does not wrap. It stays
    // owned by the context.
    ssl_ctx_st* native_handle() const noexcept;

private:
    struct impl;
    explicit ssl_context(std::unique_ptr<impl> p) noexcept;
    std::unique_ptr<impl> p_;
};

}  // namespace weft
