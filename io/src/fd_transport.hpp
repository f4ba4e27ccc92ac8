// The plain transport under a stream_reader / stream_writer pair (see
// transport.hpp for the seam): one connected socket or pipe, and the
// writer's side of asyncio's transport (a write
// buffer flushed in the background, flow control with high and low water
// marks, write_eof, graceful close).
//
// Reading needs no transport machinery: the reader pulls, receiving only
// when a read needs bytes (see stream.cpp), which bounds its buffer by the
// reader's limit without pausing anything.
//
// Writing follows asyncio's _SelectorSocketTransport. write() sends at once
// when nothing is queued; what the socket does not take is queued and a
// flusher task sends it as the socket drains. Above the high water mark the
// writer is "paused": drain() waits until the queue falls to the low water
// mark. So a peer that never reads costs at most the high water mark plus
// the last write, provided the writer awaits drain() (asyncio's contract).
//
// In Go mode the user's task and the flusher may run on different workers:
// `mutex_` guards the write side. Sends happen under it, which keeps bytes
// in order between write() and the flusher.
//
// On a loop whose poller is an io_uring ring that takes socket requests
// (socket_ring()), a socket's reads and writes are ring requests instead of
// syscalls: receives through ring_receive.hpp, and a write hands its bytes
// to a send request at once, which the loop submits with the rest of its
// turn in one io_uring_enter; the send's completion sends what was queued
// meanwhile (the flusher's job on epoll). A send error then surfaces at the
// next write() or drain(), as asyncio's does, rather than in the write()
// that queued the bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <weft/detail/completion_queue.hpp>
#include <weft/future.hpp>
#include <weft/io/address.hpp>
#include <weft/io/socket.hpp>
#include <weft/task.hpp>

#include "io_entry.hpp"
#include "transport.hpp"

namespace weft::detail {

// asyncio's defaults (FlowControlMixin): 64 KiB high, high / 4 low.
inline constexpr std::size_t default_high_water = 64 * 1024;

// write(2) that reports a reader gone away as EPIPE without raising SIGPIPE
// and without touching its disposition (a per-thread mask around the call).
ssize_t write_without_sigpipe(int fd, const char* data, std::size_t n) noexcept;

class ring_receive;

class fd_transport final : public transport,
                           public completion_target,
                           public std::enable_shared_from_this<fd_transport> {
public:
    enum class kind { socket, pipe };

    // Takes ownership of the handle's fd.
    fd_transport(io_handle h, kind k);
    ~fd_transport() override;
    fd_transport(const fd_transport&) = delete;
    fd_transport& operator=(const fd_transport&) = delete;

    // `known_peer` (the address accept() reported), when given, saves asking the
    // socket for it: one getpeername() less per connection.
    static std::shared_ptr<fd_transport> from_socket(socket s,
                                                     const socket_address* known_peer = nullptr);
    static std::shared_ptr<fd_transport> from_pipe(int fd);

    io_handle handle() const noexcept override { return h_; }
    kind type() const noexcept { return kind_; }
    bool is_socket() const noexcept { return kind_ == kind::socket; }
    const socket_address& peername() const noexcept override { return peer_; }
    const socket_address& sockname() const noexcept override { return local_; }

    // ---- the reader: one recv/read, skipped when the fd is known drained
    io_attempt try_receive(char* buf, std::size_t n) override;

    // ---- the writer
    void write(std::string_view data) override;
    task<void> drain() override;
    void write_eof() override;
    bool can_write_eof() const noexcept override { return true; }
    void close() override;
    void abort() override;
    bool is_closing() const override;
    task<void> wait_closed() override;
    std::size_t write_buffer_size() const override;
    void set_write_buffer_limits(std::size_t high, std::size_t low) override;
    std::pair<std::size_t, std::size_t> write_buffer_limits() const override;

    // ---- graceful shutdown (server::close_clients)
    // From now on a receive that would wait reports the end of the stream
    // instead (bytes already arrived are still read), and close() sends the
    // queue then a FIN but keeps the fd open: linger_close() closes it once
    // the peer has finished sending, so that no unread byte turns the close
    // into a reset.
    void stop_reading();
    std::exception_ptr failure() const override {
        std::lock_guard lock(mutex_);
        return error_;
    }
    bool reads_stopped() const noexcept override {
        // acquire: pairs with stop_reading's release; see receive() in
        // stream.cpp for why it is read after the edge count.
        return reads_stopped_.load(std::memory_order_acquire);
    }
    // Closes as above, reads and discards until the peer's end of stream
    // (or an error, or abort()), then closes the fd once the queue is sent.
    static task<void> linger_close(std::shared_ptr<fd_transport> self);

    // The syscall that receives into `buf` (recv or read).
    ssize_t receive(int fd, char* buf, std::size_t n) const noexcept;

private:
    ssize_t send_some(int fd, const char* data, std::size_t n) const noexcept;
    // Under the mutex: raise the first error, or closed_error / logic_error
    // for a write after close() / write_eof().
    void check_writable_locked(const char* what) const;
    // Bytes not yet sent: queued, and handed to a send request.
    std::size_t queued_locked() const noexcept {
        return wbuf_.size() - wpos_ + sending_.size() - sent_;
    }
    // Waiters to complete once the mutex is released. They are completed
    // without an error and look at the transport's state when they run.
    struct wake_list {
        std::vector<future<void>> items;
        void add(future<void> f) { items.push_back(std::move(f)); }
        ~wake_list();
    };
    // Pauses above the high water mark, resumes at the low one; resuming
    // hands the drain() waiters to `wake` (null where only bytes were
    // added, which cannot resume).
    void update_pause_locked(wake_list* wake = nullptr);
    void check_drain_locked() const;
    // Under the mutex: the write side failed with `err`: record the error
    // and close (asyncio's _fatal_error).
    void fail_locked(const char* what, int err, wake_list& wake);
    // Under the mutex: close the fd now, dropping what is queued, and wake
    // drain() and wait_closed().
    void close_now_locked(wake_list& wake);
    // Under the mutex, once the queue is sent after close(): close now, or
    // only send the FIN while lingering.
    void finish_close_locked(wake_list& wake);
    void shut_write_locked(wake_list& wake);
    // Under the mutex, after sending some: wakes drain() below the low water
    // mark; once everything is sent (or the fd closed) ends the sending
    // (flushing_), sends a requested EOF and closes a closing transport.
    // True when it ended.
    bool settle_locked(wake_list& wake);
    static task<void> flush(std::shared_ptr<fd_transport> self);
    // Under the mutex: a send request for sending_ from sent_ on. False when
    // the fd is closed.
    bool submit_send_locked(completion_queue& ring);
    static void on_sent(completion_target* t, int res, const char* data) noexcept;
    ring_receive* receiver();

    io_handle h_;
    kind kind_;
    socket_address peer_, local_;

    mutable std::mutex mutex_;
    std::string wbuf_;      // queued bytes, from wpos_
    std::size_t wpos_ = 0;  // bytes of wbuf_ already sent
    std::size_t high_ = default_high_water;
    std::size_t low_ = default_high_water / 4;
    bool paused_ = false;    // above the high water mark: drain() waits
    bool flushing_ = false;  // a flusher task owns the queue's sending
    bool eof_requested_ = false;
    bool eof_sent_ = false;
    bool closing_ = false;  // close() called: close once the queue is sent
    bool closed_ = false;   // the fd is closed
    bool lost_ = false;     // closed with bytes unsent: drain() raises
    bool linger_ = false;   // stop_reading() was called: close() only half-closes
    std::atomic<bool> reads_stopped_{false};
    std::exception_ptr error_;  // the first write error, raised by write/drain
    std::vector<future<void>> drain_waiters_;
    std::vector<future<void>> close_waiters_;

    // ---- the ring's requests (socket_ring()), under mutex_
    std::string sending_;   // bytes handed to the send request, from sent_ on
    std::size_t sent_ = 0;  // of sending_, sent already
    bool send_in_flight_ = false;
    completion_queue* send_ring_ = nullptr;    // the ring the send went to
    std::shared_ptr<fd_transport> send_keep_;  // alive until the send's CQE
    // The receiving side, made by the first receive through a ring; set
    // once (under mutex_), published through rx_ready_.
    std::shared_ptr<ring_receive> rx_;
    std::atomic<ring_receive*> rx_ready_{nullptr};
};

}  // namespace weft::detail
