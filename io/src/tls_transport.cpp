// tls_transport: TLS on memory BIOs over an fd_transport (see tls_transport.hpp).
#include "tls_transport.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <weft/io/errors.hpp>
#include <weft/task_handle.hpp>
#include <weft/tls/errors.hpp>
#include <weft/tls/ssl_context.hpp>
#include <weft/wait_for.hpp>

namespace weft::detail {

namespace {

// Ciphertext is received here before it is copied into the read BIO: one
// TLS record's worth and then some, per thread, only between a receive and
// the copy that follows (no suspension in between).
constexpr std::size_t cipher_size = 32 * 1024;

char* cipher_buffer() {
    thread_local std::unique_ptr<char[]> buf;
    if (!buf) buf = std::make_unique<char[]>(cipher_size);
    return buf.get();
}

// OpenSSL's reasons queued on this thread, oldest first, as ": a: b"; the
// queue is left empty for the next call.
std::string openssl_reasons() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += ": ";
        out += buf;
    }
    return out;
}

bool is_ip_literal(const std::string& host) {
    unsigned char addr[16];
    return ::inet_pton(AF_INET, host.c_str(), addr) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

std::string seconds(double s) {
    std::ostringstream out;
    out << s;
    return out.str();
}

void check_timeout(const std::string& what, const char* name, double value) {
    if (!(value > 0) || std::isinf(value)) {
        throw std::invalid_argument(what + ": " + name +
                                    " must be a positive number of seconds, not " + seconds(value));
    }
}

}  // namespace

tls_transport::tls_transport(private_tag, std::shared_ptr<fd_transport> raw,
                             double shutdown_timeout)
    : raw_(std::move(raw)), shutdown_timeout_(shutdown_timeout) {}

tls_transport::~tls_transport() {
    // The last handle is gone without close(): close now, as a plain stream
    // does, close_notify first so that the peer sees a clean end.
    if (!closing_ && established_ && !error_) {
        SSL_shutdown(ssl_);
        flush_quietly_locked();  // the last reference: nobody else holds the mutex
        raw_->close();
    }
    SSL_free(ssl_);  // frees the BIOs too
}

task<std::shared_ptr<tls_transport>> tls_transport::open(std::shared_ptr<fd_transport> raw,
                                                         tls_settings settings, std::string what,
                                                         std::string early) {
    std::shared_ptr<tls_transport> t;
    std::exception_ptr failure;
    try {
        if (settings.context == nullptr) throw std::invalid_argument(what + ": no ssl_context");
        check_timeout(what, "ssl_handshake_timeout", settings.handshake_timeout);
        check_timeout(what, "ssl_shutdown_timeout", settings.shutdown_timeout);
        const ssl_context& ctx = *settings.context;
        if (settings.server_side && ctx.purpose() != ssl_purpose::client_auth) {
            throw std::invalid_argument(
                what +
                ": a server needs an ssl_context made for it "
                "(ssl_context::create_default(ssl_purpose::client_auth)), not a client's");
        }
        if (!settings.server_side && ctx.purpose() != ssl_purpose::server_auth) {
            throw std::invalid_argument(
                what +
                ": a client needs an ssl_context made for it "
                "(ssl_context::create_default(ssl_purpose::server_auth)), not a server's");
        }
        if (!settings.server_side && ctx.check_hostname() && settings.server_hostname.empty()) {
            // Python raises the same ValueError: nothing to check the name against.
            throw std::invalid_argument(what +
                                        ": the ssl_context checks hostnames, so server_hostname "
                                        "must be given (or check_hostname turned off)");
        }
        t = std::make_shared<tls_transport>(private_tag{}, raw, settings.shutdown_timeout);
        ERR_clear_error();
        t->ssl_ = SSL_new(ctx.native_handle());
        if (t->ssl_ == nullptr) throw ssl_error(what + ": SSL_new" + openssl_reasons());
        t->rbio_ = BIO_new(BIO_s_mem());
        t->wbio_ = BIO_new(BIO_s_mem());
        if (t->rbio_ == nullptr || t->wbio_ == nullptr) {
            BIO_free(t->rbio_);
            BIO_free(t->wbio_);
            t->rbio_ = t->wbio_ = nullptr;
            throw ssl_error(what + ": BIO_new" + openssl_reasons());
        }
        SSL_set_bio(t->ssl_, t->rbio_, t->wbio_);
        if (!early.empty()) BIO_write(t->rbio_, early.data(), static_cast<int>(early.size()));
        // TLS 1.2 renegotiation would make a write wait for a read; TLS 1.3
        // has none. Refused, as most servers do.
        SSL_set_options(t->ssl_, SSL_OP_NO_RENEGOTIATION);
        if (settings.server_side) {
            SSL_set_accept_state(t->ssl_);
        } else {
            SSL_set_connect_state(t->ssl_);
            const std::string& host = settings.server_hostname;
            bool ip = !host.empty() && is_ip_literal(host);
            // SNI carries host names only (RFC 6066), never an address.
            if (!host.empty() && !ip && SSL_set_tlsext_host_name(t->ssl_, host.c_str()) != 1) {
                throw ssl_error(what + ": server_hostname '" + host + "'" + openssl_reasons());
            }
            if (ctx.check_hostname()) {
                int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl_), host.c_str())
                            : SSL_set1_host(t->ssl_, host.c_str());
                if (ok != 1) {
                    throw ssl_error(what + ": server_hostname '" + host + "'" + openssl_reasons());
                }
            }
        }
        co_await wait_for(handshake(t, what), settings.handshake_timeout);
    } catch (const timeout_error&) {
        failure = std::make_exception_ptr(
            timeout_error(what + ": the TLS handshake did not finish within " +
                          seconds(settings.handshake_timeout) + " s (ssl_handshake_timeout)"));
    } catch (...) {
        // Cancellation included: the connection goes, and so does the error.
        failure = std::current_exception();
    }
    if (failure) {
        raw->abort();
        std::rethrow_exception(failure);
    }
    co_return t;
}

task<void> tls_transport::handshake(std::shared_ptr<tls_transport> self, std::string what) {
    for (;;) {
        io_attempt a;
        {
            std::lock_guard lock(self->mutex_);
            ERR_clear_error();
            int r = SSL_do_handshake(self->ssl_);
            int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(self->ssl_, r);
            if (r == 1 && SSL_is_server(self->ssl_) == 1 &&
                SSL_version(self->ssl_) == TLS1_3_VERSION) {
                // All a TLS 1.3 server writes as the client's Finished
                // arrives is its session tickets: held for the first
                // application data (held_).
                self->held_ = BIO_ctrl_pending(self->wbio_);
                self->established_ = true;
                co_return;
            }
            // Whatever it wrote goes out, even on failure: that is the alert
            // that tells the peer why.
            self->flush_locked();
            if (r == 1) {
                self->established_ = true;
                co_return;
            }
            if (e != SSL_ERROR_WANT_READ) {
                long v = SSL_get_verify_result(self->ssl_);
                std::string reasons = openssl_reasons();
                if (v != X509_V_OK) {
                    throw ssl_certificate_error(what + ": certificate verify failed: " +
                                                    X509_verify_cert_error_string(v) + reasons,
                                                v);
                }
                throw ssl_error(
                    what + ": TLS handshake failed" +
                    (reasons.empty() ? std::string(": the peer broke the protocol") : reasons));
            }
            a = self->raw_->try_receive(cipher_buffer(), cipher_size);
            if (a.n > 0) {
                BIO_write(self->rbio_, cipher_buffer(), static_cast<int>(a.n));
                continue;
            }
        }
        if (a.closed) throw closed_error(what + ": the stream was closed during the TLS handshake");
        if (a.again) {
            if (!co_await io_wait(self->raw_->handle(), io_dir::read, a.seq)) {
                throw closed_error(what + ": the stream was closed during the TLS handshake");
            }
            continue;
        }
        // A hang-up, with a FIN or a reset, reads the same: the peer left.
        if (a.n < 0 && a.err != ECONNRESET) {
            throw_io_error((what + ": during the TLS handshake").c_str(), a.err);
        }
        throw connection_error(std::make_error_code(std::errc::connection_reset),
                               what + ": the peer closed the connection during the TLS handshake");
    }
}

io_attempt tls_transport::try_receive(char* buf, std::size_t n) {
    std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    io_attempt out;
    if (eof_) {
        out.n = 0;
        return out;
    }
    int want = static_cast<int>(std::min<std::size_t>(n, INT_MAX));
    // With no record bytes held by OpenSSL nor waiting in the memory BIO,
    // SSL_read can only say "want read": go to the socket first. A reader
    // that waited for readiness comes here every time, and this saves it an
    // SSL_read, an error-queue clear and a flush per request.
    if (SSL_has_pending(ssl_) != 1 && BIO_ctrl_pending(rbio_) == 0) {
        io_attempt a = receive_records_locked();
        if (a.n <= 0) return waiting_locked(a);
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(ssl_, buf, want);
        int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
        // Reading may write (a TLS 1.3 key update answered, an alert).
        if (BIO_ctrl_pending(wbio_) > held_) flush_quietly_locked();
        if (r > 0) {
            out.n = r;
            return out;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            eof_ = true;  // close_notify: a clean end of the stream
            if (!closing_) {
                // Answered with ours, and the connection closes, as
                // asyncio's SSL protocol starts its shutdown on the peer's
                // (TLS has no half-close here: write_eof is refused too).
                closing_ = true;
                ERR_clear_error();
                SSL_shutdown(ssl_);
                flush_quietly_locked();
                close_raw();  // the fd transport's mutex after ours: the order allowed
            }
            out.n = 0;
            return out;
        }
        if (e != SSL_ERROR_WANT_READ) fail_locked("weft::stream_reader: TLS error");
        io_attempt a = receive_records_locked();
        if (a.n <= 0) return waiting_locked(a);
    }
}

io_attempt tls_transport::waiting_locked(io_attempt a) {
    // The reader is about to wait for the peer, which may be waiting for
    // what we hold.
    if (held_ != 0) flush_quietly_locked();
    return a;
}

io_attempt tls_transport::receive_records_locked() {
    io_attempt a = raw_->try_receive(cipher_buffer(), cipher_size);
    if (a.n == 0) {
        try {
            throw ssl_eof_error(
                "weft::stream_reader: the peer closed the connection without TLS's "
                "close_notify (the data may have been cut short)");
        } catch (...) {
            error_ = std::current_exception();
        }
        std::rethrow_exception(error_);
    }
    if (a.n > 0) BIO_write(rbio_, cipher_buffer(), static_cast<int>(a.n));
    return a;  // a.n < 0: again, closed or an errno, the reader's to handle
}

void tls_transport::write(std::string_view data) {
    std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    if (closing_) throw closed_error("weft::stream_writer::write: the stream is closed");
    while (!data.empty()) {
        ERR_clear_error();
        int chunk = static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX));
        int r = SSL_write(ssl_, data.data(), chunk);
        if (r <= 0) {
            // A memory BIO always takes the records: only a broken
            // connection (a fatal alert seen) fails here.
            fail_locked("weft::stream_writer::write: TLS error");
        }
        data.remove_prefix(static_cast<std::size_t>(r));
    }
    flush_locked();
}

void tls_transport::write_eof() {
    throw std::logic_error(
        "weft::stream_writer::write_eof: a TLS stream cannot half-close (TLS has no end of "
        "stream but close_notify, which ends both directions); use close()");
}

void tls_transport::close() {
    bool await_peer = false;
    {
        std::lock_guard lock(mutex_);
        if (closing_) return;
        closing_ = true;
        if (established_ && !error_) {
            ERR_clear_error();
            SSL_shutdown(ssl_);  // queues our close_notify
            flush_quietly_locked();
            // The peer's close_notify is still to come (asyncio's SSL
            // shutdown waits for it before closing the socket).
            await_peer = !eof_;
        }
    }
    if (await_peer) {
        try {
            create_task(finish_shutdown(shared_from_this(), shutdown_timeout_),
                        "weft.tls.shutdown");
            return;
        } catch (const std::exception&) {
            // No loop to wait on: close without waiting, as below.
        }
    }
    close_raw();
}

void tls_transport::close_raw() {
    raw_->close();
    // A peer that does not read would keep the connection open while the
    // queue (close_notify last) waits to go out: bounded by the shutdown
    // timeout (asyncio's ssl_shutdown_timeout).
    if (raw_->write_buffer_size() > 0) {
        try {
            create_task(watch_close(raw_, shutdown_timeout_), "weft.tls.shutdown");
        } catch (const std::exception&) {
            raw_->abort();  // no loop to wait on: do not wait
        }
    }
}

task<void> tls_transport::watch_close(std::shared_ptr<fd_transport> raw, double timeout) {
    try {
        co_await wait_for(raw->wait_closed(), timeout);
    } catch (const timeout_error&) {
        raw->abort();
    } catch (const std::exception&) {
        // The connection failed while closing: closed either way.
    }
}

task<void> tls_transport::finish_shutdown(std::shared_ptr<tls_transport> self, double timeout) {
    std::shared_ptr<fd_transport> raw = self->raw_;
    try {
        co_await wait_for(
            [](std::shared_ptr<tls_transport> t) -> task<void> {
                co_await t->await_close_notify();
                // Then the queue goes out and the socket closes, as for a
                // plain stream.
                t->raw_->close();
                co_await t->raw_->wait_closed();
            }(std::move(self)),
            timeout);
    } catch (const timeout_error&) {
        raw->abort();  // the peer neither answered nor hung up in time
    } catch (const std::exception&) {
        raw->abort();  // the connection failed while closing: closed either way
    }
}

task<void> tls_transport::await_close_notify() {
    for (;;) {
        io_attempt a;
        {
            std::lock_guard lock(mutex_);
            if (eof_ || error_) co_return;  // a reader saw the end first
            ERR_clear_error();
            int r = SSL_read(ssl_, cipher_buffer(), static_cast<int>(cipher_size));
            int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
            flush_quietly_locked();
            if (r > 0) continue;  // data after our close: nobody reads it now
            if (e == SSL_ERROR_ZERO_RETURN) {
                eof_ = true;
                co_return;
            }
            if (e != SSL_ERROR_WANT_READ) co_return;  // a TLS error: just close
            a = raw_->try_receive(cipher_buffer(), cipher_size);
            if (a.n > 0) {
                BIO_write(rbio_, cipher_buffer(), static_cast<int>(a.n));
                continue;
            }
        }
        // The peer hung up (its FIN, without close_notify: nothing to wait
        // for), the fd failed or was closed, or the server stopped its reads.
        if (!a.again || raw_->reads_stopped()) co_return;
        if (!co_await io_wait(raw_->handle(), io_dir::read, a.seq)) co_return;
    }
}

void tls_transport::abort() {
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
    }
    raw_->abort();
}

bool tls_transport::is_closing() const {
    {
        std::lock_guard lock(mutex_);
        if (closing_) return true;
    }
    return raw_->is_closing();
}

std::string tls_transport::selected_alpn_protocol() const {
    std::lock_guard lock(mutex_);
    const unsigned char* p = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_, &p, &len);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), len);
}

std::string tls_transport::tls_version() const {
    std::lock_guard lock(mutex_);
    return SSL_get_version(ssl_);
}

void tls_transport::flush_locked() {
    char* p = nullptr;
    long n = BIO_get_mem_data(wbio_, &p);
    if (n <= 0) return;
    std::string_view records(p, static_cast<std::size_t>(n));
    struct reset_guard {
        bio_st* b;
        ~reset_guard() { (void)BIO_reset(b); }
    } reset{wbio_};
    held_ = 0;
    raw_->write(records);
}

void tls_transport::flush_quietly_locked() noexcept {
    try {
        flush_locked();
    } catch (...) {
        // The fd transport keeps the error for the writer's next call.
    }
}

void tls_transport::fail_locked(const std::string& what) {
    long v = SSL_get_verify_result(ssl_);
    std::string reasons = openssl_reasons();
    try {
        if (reasons.empty()) {
            throw ssl_error(what + ": the connection broke" +
                            (v != X509_V_OK ? std::string(": ") + X509_verify_cert_error_string(v)
                                            : std::string()));
        }
        throw ssl_error(what + reasons);
    } catch (...) {
        if (!error_) error_ = std::current_exception();
    }
    std::rethrow_exception(error_);
}

}  // namespace weft::detail
