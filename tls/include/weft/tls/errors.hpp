// The exceptions TLS raises, next to Python's ssl module's.
//
//   ssl_error              ssl.SSLError: a TLS setting or operation failed
//   ssl_certificate_error  ssl.SSLCertVerificationError: the peer's
//                          certificate was refused (unknown CA, expired,
//                          issued for another host); verify_code() is
//                          OpenSSL's X509_V_ERR_* value
//   ssl_eof_error          ssl.SSLEOFError: the peer closed the connection
//                          without TLS's close_notify, so the data read may
//                          have been cut short by an attacker or a crash
#pragma once

#include <stdexcept>
#include <string>

namespace weft {

// A TLS setting or operation failed; what() names the weft call and carries
// OpenSSL's own reason when it gave one.
class ssl_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class ssl_certificate_error : public ssl_error {
public:
    ssl_certificate_error(const std::string& what, long verify_code)
        : ssl_error(what), code_(verify_code) {}
    long verify_code() const noexcept { return code_; }

private:
    long code_;
};

class ssl_eof_error : public ssl_error {
public:
    using ssl_error::ssl_error;
};

}  // namespace weft
