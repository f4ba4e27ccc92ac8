// weft::ssl_context: its settings checked on input, and proven by full
// handshakes between two of its SSL_CTXs over an OpenSSL BIO pair in memory
// (verification, hostname, ALPN). Certificates are made at test time with
// the openssl command.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <weft/tls/ssl_context.hpp>

namespace fs = std::filesystem;

namespace {

// A test CA, a certificate for localhost signed by it, and a key that
// belongs to neither, in a fresh directory removed at the end.
class tls_ssl_context : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        char tmpl[] = "/tmp/weft-tls-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        const std::string d = dir_.string();
        const std::string script =
            "set -e; cd '" + d +
            "'; "
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
            "-subj '/CN=weft test CA' 2>/dev/null; "
            "openssl req -newkey rsa:2048 -nodes -keyout localhost.key -out localhost.csr "
            "-subj '/CN=localhost' 2>/dev/null; "
            "printf 'subjectAltName=DNS:localhost\\n' > ext.cnf; "
            "openssl x509 -req -in localhost.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
            "-out localhost.pem -days 2 -extfile ext.cnf 2>/dev/null; "
            "openssl genrsa -out other.key 2048 2>/dev/null";
        ASSERT_EQ(std::system(("bash -c \"" + script + "\"").c_str()), 0)
            << "making the test certificates with the openssl command failed";
    }
    static void TearDownTestSuite() { fs::remove_all(dir_); }
    static std::string path(const char* name) { return (dir_ / name).string(); }

    static weft::ssl_context server_ctx() {
        auto s = weft::ssl_context::create_default(weft::ssl_purpose::client_auth);
        s.load_cert_chain(path("localhost.pem"), path("localhost.key"));
        return s;
    }
    static weft::ssl_context client_ctx() {
        auto c = weft::ssl_context::create_default();
        c.load_verify_locations(path("ca.pem"));
        return c;
    }

    static fs::path dir_;
};
fs::path tls_ssl_context::dir_;

// A handshake between two SSL objects of the given contexts, the bytes
// carried by a BIO pair: whether both sides finished, the client's
// verification result and the protocol ALPN agreed on.
struct handshake_result {
    bool ok = false;
    long verify = X509_V_OK;
    std::string alpn;
};

handshake_result handshake(const weft::ssl_context& client, const weft::ssl_context& server,
                           const char* host) {
    SSL* c = SSL_new(client.native_handle());
    SSL* s = SSL_new(server.native_handle());
    BIO *bc = nullptr, *bs = nullptr;
    BIO_new_bio_pair(&bc, 0, &bs, 0);
    SSL_set_bio(c, bc, bc);
    SSL_set_bio(s, bs, bs);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    SSL_set_tlsext_host_name(c, host);
    SSL_set1_host(c, host);
    handshake_result r;
    bool c_done = false, s_done = false, failed = false;
    for (int i = 0; i < 100 && !(c_done && s_done) && !failed; ++i) {
        for (auto [ssl, done] : {std::pair{c, &c_done}, std::pair{s, &s_done}}) {
            if (*done) continue;
            int rc = SSL_do_handshake(ssl);
            if (rc == 1) {
                *done = true;
                continue;
            }
            int e = SSL_get_error(ssl, rc);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) failed = true;
        }
    }
    r.ok = c_done && s_done && !failed;
    // TLS 1.3 session tickets come after the handshake: a read takes them in
    // (there is no data, so it then wants more).
    char byte;
    (void)SSL_read(c, &byte, 1);
    r.verify = SSL_get_verify_result(c);
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(c, &proto, &len);
    if (proto != nullptr) r.alpn.assign(reinterpret_cast<const char*>(proto), len);
    SSL_free(c);
    SSL_free(s);
    return r;
}

TEST_F(tls_ssl_context, ClientDefaultsVerifyAgainstTheSystemStore) {
    auto c = weft::ssl_context::create_default();
    EXPECT_EQ(c.purpose(), weft::ssl_purpose::server_auth);
    EXPECT_EQ(c.verify_mode(), weft::ssl_verify::required);
    EXPECT_TRUE(c.check_hostname());
    ASSERT_NE(c.native_handle(), nullptr);
    EXPECT_NE(SSL_CTX_get_verify_mode(c.native_handle()) & SSL_VERIFY_PEER, 0);
    EXPECT_EQ(SSL_CTX_get_min_proto_version(c.native_handle()), TLS1_2_VERSION);

    auto s = weft::ssl_context::create_default(weft::ssl_purpose::client_auth);
    EXPECT_EQ(s.verify_mode(), weft::ssl_verify::none);
    EXPECT_FALSE(s.check_hostname());
}

TEST_F(tls_ssl_context, BadFilesAreNamedInTheError) {
    auto s = weft::ssl_context::create_default(weft::ssl_purpose::client_auth);
    try {
        s.load_cert_chain(path("missing.pem"), path("localhost.key"));
        FAIL() << "a missing certificate file was accepted";
    } catch (const weft::ssl_error& e) {
        EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
    }
    try {
        s.load_cert_chain(path("localhost.pem"), path("other.key"));
        FAIL() << "a key of another certificate was accepted";
    } catch (const weft::ssl_error& e) {
        EXPECT_NE(std::string(e.what()).find("other.key"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("mismatch"), std::string::npos) << e.what();
    }
    EXPECT_THROW(s.load_cert_chain(""), weft::ssl_error);
    auto c = weft::ssl_context::create_default();
    EXPECT_THROW(c.load_verify_locations(path("missing-ca.pem")), weft::ssl_error);
    EXPECT_THROW(c.load_verify_locations(""), weft::ssl_error);
}

TEST_F(tls_ssl_context, VerificationCannotBeTurnedOffUnderAHostnameCheck) {
    auto c = weft::ssl_context::create_default();
    EXPECT_THROW(c.set_verify_mode(weft::ssl_verify::none), weft::ssl_error);
    c.set_check_hostname(false);
    c.set_verify_mode(weft::ssl_verify::none);
    EXPECT_EQ(c.verify_mode(), weft::ssl_verify::none);
    EXPECT_EQ(SSL_CTX_get_verify_mode(c.native_handle()), SSL_VERIFY_NONE);
}

TEST_F(tls_ssl_context, BadAlpnNamesAreRefused) {
    auto c = weft::ssl_context::create_default();
    EXPECT_THROW(c.set_alpn_protocols({"h2", ""}), weft::ssl_error);
    EXPECT_THROW(c.set_alpn_protocols({std::string(256, 'x')}), weft::ssl_error);
    c.set_alpn_protocols({std::string(255, 'x')});
    EXPECT_EQ(c.alpn_protocols().size(), 1u);
}

TEST_F(tls_ssl_context, HandshakeVerifiesTheServerAndAgreesOnAlpn) {
    auto c = client_ctx();
    c.set_alpn_protocols({"h2", "http/1.1"});
    auto s0 = server_ctx();
    s0.set_alpn_protocols({"http/1.1"});
    // The server's ALPN choice must survive the context being moved.
    weft::ssl_context s = std::move(s0);
    auto r = handshake(c, s, "localhost");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.verify, X509_V_OK);
    EXPECT_EQ(r.alpn, "http/1.1");
}

// Python's SSLContext.num_tickets: what a server sends after a full
// TLS 1.3 handshake, 2 by default; a client's context has no such setting.
int tickets_seen = 0;

TEST_F(tls_ssl_context, NumTicketsIsWhatTheServerSends) {
    auto c = client_ctx();
    SSL_CTX_set_session_cache_mode(c.native_handle(), SSL_SESS_CACHE_CLIENT);
    SSL_CTX_sess_set_new_cb(c.native_handle(), [](SSL*, SSL_SESSION*) {
        ++tickets_seen;
        return 0;  // not kept
    });
    auto s = server_ctx();
    EXPECT_EQ(s.num_tickets(), 2u);
    for (std::size_t n : {2u, 1u, 0u}) {
        s.set_num_tickets(n);
        EXPECT_EQ(s.num_tickets(), n);
        tickets_seen = 0;
        EXPECT_TRUE(handshake(c, s, "localhost").ok);
        EXPECT_EQ(tickets_seen, static_cast<int>(n));
    }
    EXPECT_THROW(c.set_num_tickets(1), std::invalid_argument);
}

TEST_F(tls_ssl_context, NoCommonAlpnProtocolHandshakesWithoutOne) {
    auto c = client_ctx();
    c.set_alpn_protocols({"h2"});
    auto s = server_ctx();
    s.set_alpn_protocols({"http/1.1"});
    auto r = handshake(c, s, "localhost");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.alpn, "");
}

TEST_F(tls_ssl_context, UnknownCaIsRefused) {
    auto c = weft::ssl_context::create_default();  // the system store only
    auto r = handshake(c, server_ctx(), "localhost");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.verify, X509_V_OK);
}

TEST_F(tls_ssl_context, HostnameMismatchIsRefused) {
    auto r = handshake(client_ctx(), server_ctx(), "other.example");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.verify, X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST_F(tls_ssl_context, ServerRequiringAClientCertificateRefusesAClientWithout) {
    auto s = server_ctx();
    s.load_verify_locations(path("ca.pem"));
    s.set_verify_mode(weft::ssl_verify::required);
    auto without = handshake(client_ctx(), s, "localhost");
    EXPECT_FALSE(without.ok);

    auto c = client_ctx();
    c.load_cert_chain(path("localhost.pem"), path("localhost.key"));
    auto with = handshake(c, s, "localhost");
    EXPECT_TRUE(with.ok);
}

}  // namespace
