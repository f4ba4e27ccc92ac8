// TLS over an fd_transport, as asyncio's sslproto layers SSL over a socket
// transport: OpenSSL only ever sees two memory BIOs, and every byte it
// produces or needs goes through weft's own non-blocking socket I/O. No
// SSL_read or SSL_write ever blocks a worker.
//
//   reading   try_receive() asks SSL_read for plaintext; when it wants more,
//             it receives ciphertext from the fd (fd_transport::try_receive)
//             into the read BIO and asks again, or reports `again` so that
//             the reader waits on the fd like a plain one. Plaintext is only
//             handed over by try_receive(), which never suspends, so a
//             cancelled read loses no decrypted byte.
//   writing   write() encrypts into the write BIO and hands the records to
//             the fd transport's write(), whose queue, flusher and flow
//             control (drain, water marks) work as for plain streams: the
//             queue counts ciphertext.
//   closing   close() sends close_notify and, unless the peer's has
//             arrived already, waits for it (reading and dropping what comes
//             before it) as asyncio's SSL shutdown does, then closes the fd
//             transport once its queue is out; a peer that hangs up instead
//             ends the wait, and the shutdown timeout bounds the whole (the
//             connection is aborted past it). The peer's close_notify,
//             when it comes first, is answered with ours and the connection
//             closes (asyncio's SSL protocol does the same), so that a peer
//             waiting for it is not held until its timeout. A peer that
//             ends the stream without close_notify makes reads raise
//             ssl_eof_error.
//
// In Go mode the reading task, the writing task and the handshake may run
// on different workers: `mutex_` guards the SSL object (OpenSSL's SSL is
// not safe for concurrent use). It is taken before the fd transport's own
// mutex (write() hands records over under it, keeping them in order),
// never after it.
#pragma once

#include <exception>
#include <memory>
#include <mutex>
#include <string>

#include "fd_transport.hpp"
#include "transport.hpp"

// OpenSSL's types, declared so that this header does not pull in its headers.
struct ssl_st;
struct bio_st;

namespace weft {
class ssl_context;
}

namespace weft::detail {

struct tls_settings {
    const ssl_context* context = nullptr;
    bool server_side = false;
    // A client's SNI name and the name its certificate check expects.
    std::string server_hostname;
    double handshake_timeout = 60.0;
    double shutdown_timeout = 30.0;
};

class tls_transport final : public transport, public std::enable_shared_from_this<tls_transport> {
    struct private_tag {};

public:
    tls_transport(private_tag, std::shared_ptr<fd_transport> raw, double shutdown_timeout);
    ~tls_transport() override;
    tls_transport(const tls_transport&) = delete;
    tls_transport& operator=(const tls_transport&) = delete;

    // Makes the TLS connection over `raw` and runs its handshake within
    // settings.handshake_timeout. On any failure (a refused certificate,
    // garbage from the peer, the timeout, a cancellation) the fd transport
    // is aborted, so nothing is left open, and the error is raised with
    // `what` (the weft call) in its message.
    // `early`: bytes of the peer's already received (start_tls: what the
    // reader had read ahead), handshake input before the socket's.
    static task<std::shared_ptr<tls_transport>> open(std::shared_ptr<fd_transport> raw,
                                                     tls_settings settings, std::string what,
                                                     std::string early = {});

    const std::shared_ptr<fd_transport>& raw() const noexcept { return raw_; }

    io_attempt try_receive(char* buf, std::size_t n) override;
    io_handle handle() const noexcept override { return raw_->handle(); }
    bool reads_stopped() const noexcept override { return raw_->reads_stopped(); }
    std::exception_ptr failure() const override {
        {
            std::lock_guard lock(mutex_);
            if (error_) return error_;
        }
        return raw_->failure();
    }

    void write(std::string_view data) override;
    task<void> drain() override { return raw_->drain(); }
    // TLS has no half-close (asyncio's SSL transport has none either).
    void write_eof() override;
    bool can_write_eof() const noexcept override { return false; }
    void close() override;
    void abort() override;
    bool is_closing() const override;
    task<void> wait_closed() override { return raw_->wait_closed(); }
    std::size_t write_buffer_size() const override { return raw_->write_buffer_size(); }
    void set_write_buffer_limits(std::size_t high, std::size_t low) override {
        raw_->set_write_buffer_limits(high, low);
    }
    std::pair<std::size_t, std::size_t> write_buffer_limits() const override {
        return raw_->write_buffer_limits();
    }
    const socket_address& peername() const noexcept override { return raw_->peername(); }
    const socket_address& sockname() const noexcept override { return raw_->sockname(); }

    bool is_tls() const noexcept override { return true; }
    std::string selected_alpn_protocol() const override;
    std::string tls_version() const override;

private:
    static task<void> handshake(std::shared_ptr<tls_transport> self, std::string what);
    // Aborts `raw` if it is still open `timeout` seconds after close().
    static task<void> watch_close(std::shared_ptr<fd_transport> raw, double timeout);
    // After our close_notify: waits for the peer's, then closes the fd
    // transport once its queue is out; all within `timeout`, else aborts.
    static task<void> finish_shutdown(std::shared_ptr<tls_transport> self, double timeout);
    // Reads (and drops) what the peer still sends until its close_notify,
    // its hang-up, or a failure.
    task<void> await_close_notify();
    // Closes the fd transport once its queue is out, within the shutdown
    // timeout. With or without our mutex held.
    void close_raw();
    // Under the mutex: hands what OpenSSL wrote into the write BIO to the fd
    // transport. Raises the fd transport's write error.
    void flush_locked();
    // As flush_locked, for the reading side: a failed send is the writer's
    // to report (its next write or drain raises it), not the reader's.
    void flush_quietly_locked() noexcept;
    // Under the mutex: one non-blocking read of the socket into OpenSSL's
    // read BIO. Its result is the socket's; the peer's hang-up without
    // close_notify is recorded and raised as ssl_eof_error.
    io_attempt receive_records_locked();
    // Under the mutex: try_receive's result when it found nothing to read
    // (a.n <= 0); first sends what held_ counts.
    io_attempt waiting_locked(io_attempt a);
    // Under the mutex: records a TLS failure made from OpenSSL's error
    // queue, and raises it (now and on every later call).
    [[noreturn]] void fail_locked(const std::string& what);

    const std::shared_ptr<fd_transport> raw_;
    const double shutdown_timeout_;
    mutable std::mutex mutex_;
    ssl_st* ssl_ = nullptr;
    bio_st* rbio_ = nullptr;    // ciphertext received, for OpenSSL to read (owned by ssl_)
    bio_st* wbio_ = nullptr;    // ciphertext OpenSSL wrote, to send (owned by ssl_)
    bool established_ = false;  // the handshake finished
    bool closing_ = false;      // close() or abort() was called
    bool eof_ = false;          // the peer's close_notify arrived
    // Bytes left in the write BIO on purpose: a TLS 1.3 server's session
    // tickets, written as its handshake ends, go out with the first
    // application data instead of in a send of their own; before the reader
    // waits for the peer at the latest (try_receive), so that a peer that
    // waits for them is never kept waiting.
    std::size_t held_ = 0;
    std::exception_ptr error_;  // the first TLS failure
};

}  // namespace weft::detail
