// weft::ssl_context on OpenSSL 3's SSL_CTX (see ssl_context.hpp).
#include <stdexcept>
#include <string>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <weft/tls/ssl_context.hpp>

namespace weft {

namespace {

// Raises ssl_error for `what`, with the reasons OpenSSL queued on this
// thread (oldest first), and leaves the queue empty for the next call.
[[noreturn]] void raise(const std::string& what) {
    std::string msg = what;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        msg += ": ";
        msg += buf;
    }
    throw ssl_error(msg);
}

int openssl_version(tls_version v) {
    return v == tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

}  // namespace

struct ssl_context::impl {
    SSL_CTX* ctx = nullptr;
    ssl_purpose purpose = ssl_purpose::server_auth;
    ssl_verify verify = ssl_verify::none;
    bool check_hostname = false;
    std::vector<std::string> alpn;
    std::string alpn_wire;  // alpn as length-prefixed names, what TLS sends

    ~impl() { SSL_CTX_free(ctx); }

    // The server's ALPN choice: the first of its own names the client
    // offers (SSL_select_next_proto's order). No overlap: the handshake
    // goes on without ALPN, as OpenSSL's and Python's servers do.
    static int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen,
                           const unsigned char* in, unsigned int inlen, void* arg) {
        auto* self = static_cast<impl*>(arg);
        unsigned char* chosen = nullptr;
        const auto* ours = reinterpret_cast<const unsigned char*>(self->alpn_wire.data());
        int r = SSL_select_next_proto(&chosen, outlen, ours,
                                      static_cast<unsigned int>(self->alpn_wire.size()), in, inlen);
        if (r != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
        *out = chosen;
        return SSL_TLSEXT_ERR_OK;
    }
};

ssl_context::ssl_context(std::unique_ptr<impl> p) noexcept : p_(std::move(p)) {}
ssl_context::ssl_context(ssl_context&&) noexcept = default;
ssl_context& ssl_context::operator=(ssl_context&&) noexcept = default;
ssl_context::~ssl_context() = default;

ssl_context ssl_context::create_default(ssl_purpose purpose) {
    auto p = std::make_unique<impl>();
    p->purpose = purpose;
    p->ctx = SSL_CTX_new(purpose == ssl_purpose::server_auth ? TLS_client_method()
                                                             : TLS_server_method());
    if (p->ctx == nullptr) raise("weft::ssl_context::create_default: SSL_CTX_new");
    if (SSL_CTX_set_min_proto_version(p->ctx, TLS1_2_VERSION) != 1) {
        raise("weft::ssl_context::create_default: setting TLS 1.2 as the minimum");
    }
    // Writes may be retried from a new buffer (the write queue moves as it
    // is compacted) and may complete in parts, as weft's transport sends.
    SSL_CTX_set_mode(p->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    ssl_context c(std::move(p));
    if (purpose == ssl_purpose::server_auth) {
        c.set_check_hostname(true);  // makes verification required too
        c.load_default_certs();
    }
    return c;
}

ssl_purpose ssl_context::purpose() const noexcept {
    return p_->purpose;
}

void ssl_context::load_cert_chain(const std::string& certfile, const std::string& keyfile) {
    const std::string what = "weft::ssl_context::load_cert_chain";
    if (certfile.empty()) throw ssl_error(what + ": no certificate file given");
    const std::string& key = keyfile.empty() ? certfile : keyfile;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(p_->ctx, certfile.c_str()) != 1) {
        raise(what + ": reading the certificate chain '" + certfile + "'");
    }
    if (SSL_CTX_use_PrivateKey_file(p_->ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
        // OpenSSL checks the key against the certificate here already: a
        // mismatch ends in "key values mismatch".
        raise(what + ": reading the private key '" + key + "' for the certificate '" + certfile +
              "'");
    }
    if (SSL_CTX_check_private_key(p_->ctx) != 1) {
        raise(what + ": the private key '" + key + "' does not match the certificate '" + certfile +
              "'");
    }
}

void ssl_context::load_verify_locations(const std::string& cafile, const std::string& capath) {
    const std::string what = "weft::ssl_context::load_verify_locations";
    if (cafile.empty() && capath.empty())
        throw ssl_error(what + ": neither cafile nor capath given");
    ERR_clear_error();
    if (!cafile.empty() && SSL_CTX_load_verify_file(p_->ctx, cafile.c_str()) != 1) {
        raise(what + ": reading the CA file '" + cafile + "'");
    }
    if (!capath.empty() && SSL_CTX_load_verify_dir(p_->ctx, capath.c_str()) != 1) {
        raise(what + ": reading the CA directory '" + capath + "'");
    }
}

void ssl_context::load_default_certs() {
    ERR_clear_error();
    if (SSL_CTX_set_default_verify_paths(p_->ctx) != 1) {
        raise("weft::ssl_context::load_default_certs: the system's CA store");
    }
}

void ssl_context::set_verify_mode(ssl_verify mode) {
    if (mode == ssl_verify::none && p_->check_hostname) {
        // Python raises the same: a hostname check without verification
        // would check a certificate nobody vouched for.
        throw ssl_error(
            "weft::ssl_context::set_verify_mode: cannot turn verification off while "
            "check_hostname is on (turn it off first)");
    }
    int flags = SSL_VERIFY_NONE;
    if (mode != ssl_verify::none) flags = SSL_VERIFY_PEER;
    // A server asks for a client certificate with SSL_VERIFY_PEER; "required"
    // also fails the handshake of a client that sends none.
    if (mode == ssl_verify::required && p_->purpose == ssl_purpose::client_auth) {
        flags |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(p_->ctx, flags, nullptr);
    p_->verify = mode;
}

ssl_verify ssl_context::verify_mode() const noexcept {
    return p_->verify;
}

void ssl_context::set_check_hostname(bool on) {
    if (on && p_->verify == ssl_verify::none) set_verify_mode(ssl_verify::required);
    p_->check_hostname = on;
}

bool ssl_context::check_hostname() const noexcept {
    return p_->check_hostname;
}

void ssl_context::set_minimum_version(tls_version v) {
    ERR_clear_error();
    if (SSL_CTX_set_min_proto_version(p_->ctx, openssl_version(v)) != 1) {
        raise("weft::ssl_context::set_minimum_version");
    }
}

void ssl_context::set_maximum_version(tls_version v) {
    ERR_clear_error();
    if (SSL_CTX_set_max_proto_version(p_->ctx, openssl_version(v)) != 1) {
        raise("weft::ssl_context::set_maximum_version");
    }
}

void ssl_context::set_num_tickets(std::size_t n) {
    if (p_->purpose != ssl_purpose::client_auth) {
        throw std::invalid_argument(
            "weft::ssl_context::set_num_tickets: a client's context sends no session tickets "
            "(this is a server's setting: create_default(ssl_purpose::client_auth))");
    }
    ERR_clear_error();
    if (SSL_CTX_set_num_tickets(p_->ctx, n) != 1) raise("weft::ssl_context::set_num_tickets");
}

std::size_t ssl_context::num_tickets() const noexcept {
    return SSL_CTX_get_num_tickets(p_->ctx);
}

void ssl_context::set_alpn_protocols(const std::vector<std::string>& protocols) {
    std::string wire;
    for (const std::string& name : protocols) {
        if (name.empty() || name.size() > 255) {
            throw ssl_error("weft::ssl_context::set_alpn_protocols: protocol name '" + name +
                            "' must be 1 to 255 bytes, not " + std::to_string(name.size()));
        }
        wire += static_cast<char>(name.size());
        wire += name;
    }
    if (p_->purpose == ssl_purpose::server_auth) {
        // SSL_CTX_set_alpn_protos returns 0 on success, unlike the rest.
        ERR_clear_error();
        if (SSL_CTX_set_alpn_protos(p_->ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned int>(wire.size())) != 0) {
            raise("weft::ssl_context::set_alpn_protocols");
        }
    } else if (wire.empty()) {
        SSL_CTX_set_alpn_select_cb(p_->ctx, nullptr, nullptr);
    } else {
        // The callback reads alpn_wire through the impl, which stays put
        // when the context is moved (it is held by pointer).
        SSL_CTX_set_alpn_select_cb(p_->ctx, &impl::select_alpn, p_.get());
    }
    p_->alpn = protocols;
    p_->alpn_wire = std::move(wire);
}

const std::vector<std::string>& ssl_context::alpn_protocols() const noexcept {
    return p_->alpn;
}

ssl_ctx_st* ssl_context::native_handle() const noexcept {
    return p_->ctx;
}

}  // namespace weft
