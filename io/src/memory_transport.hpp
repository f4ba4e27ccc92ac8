// Two transports connected in memory (open_memory_pair): what one end
// writes, the other end's reader receives, with no socket and no syscall.
// Tests drive protocol code over it with exact control of what arrives when.
//
// Each direction is a byte queue in the shared state. It plays both the
// writer's queue and the socket's buffer: write() appends and never blocks,
// the peer's try_receive() takes from the front, and drain() waits while
// more than the high water mark is unread, until the reader has brought it
// down to the low one (asyncio's flow control, with a peer that is the
// whole buffer).
//
// Readiness goes through the same io_wait as a socket's: each end owns an
// io_entry with no fd, and the other end raises its edges by hand
// (io_entry::notify) after changing the shared state, so the reader in
// stream.cpp waits on it unchanged. The entries stay open until both ends
// are gone, so a notify never reaches an entry that a socket reuses.
//
// In Go mode the two ends' tasks may run on different workers: `mutex`
// guards the shared state. Notifications are sent after it is released.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "fd_transport.hpp"  // default_high_water
#include "io_entry.hpp"
#include "transport.hpp"

namespace weft::detail {

class memory_transport;

// What both ends share: one queue per direction, indexed by the writing end.
struct memory_pipe {
    memory_pipe();
    ~memory_pipe();
    memory_pipe(const memory_pipe&) = delete;
    memory_pipe& operator=(const memory_pipe&) = delete;

    struct direction {
        std::string buf;  // written, unread from `pos` on
        std::size_t pos = 0;
        bool eof = false;    // the writer's write_eof() or close(): the end after buf
        bool reset = false;  // the writer's abort(): the reader sees a reset
        std::size_t unread() const noexcept { return buf.size() - pos; }
    };
    struct end_state {
        io_handle handle;  // this end's readiness (an fd-less entry)
        bool closed = false;
        bool paused = false;  // above the high water mark: drain() waits
        std::size_t high = default_high_water;
        std::size_t low = default_high_water / 4;
    };

    std::mutex mutex;
    direction dir[2];  // dir[i]: what end i writes and end 1 - i reads
    end_state end[2];
};

class memory_transport final : public transport {
public:
    memory_transport(std::shared_ptr<memory_pipe> pipe, int side) noexcept
        : pipe_(std::move(pipe)), side_(side) {}
    ~memory_transport() override;
    memory_transport(const memory_transport&) = delete;
    memory_transport& operator=(const memory_transport&) = delete;

    io_attempt try_receive(char* buf, std::size_t n) override;
    io_handle handle() const noexcept override { return pipe_->end[side_].handle; }
    bool reads_stopped() const noexcept override { return false; }

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
    // No addresses: an unspecified socket_address, as for a pipe.
    const socket_address& peername() const noexcept override { return none_; }
    const socket_address& sockname() const noexcept override { return none_; }

private:
    int peer() const noexcept { return 1 - side_; }
    // Ends this side (close or abort); `reset`: drop what the peer has not
    // read and make its reads fail.
    void end_here(bool reset);
    // Raises an edge in direction `d` on `side`'s entry (outside the mutex).
    void notify(int side, io_dir d) const noexcept { pipe_->end[side].handle.entry->notify(d); }

    const std::shared_ptr<memory_pipe> pipe_;
    const int side_;
    static const socket_address none_;
};

// Two connected ends.
std::pair<std::shared_ptr<transport>, std::shared_ptr<transport>> make_memory_pair();

}  // namespace weft::detail
