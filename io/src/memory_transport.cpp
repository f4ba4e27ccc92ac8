// The in-memory transport pair; see memory_transport.hpp.
#include "memory_transport.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <weft/io/errors.hpp>
#include <weft/io/stream.hpp>

#include "io_wait.hpp"
#include "stream_link.hpp"

namespace weft::detail {

const socket_address memory_transport::none_{};

memory_pipe::memory_pipe() {
    // Entries with no fd: never registered with a poller, their edges come
    // from notify() alone.
    end[0].handle = io_entry::open(-1);
    end[1].handle = io_entry::open(-1);
}

memory_pipe::~memory_pipe() {
    for (end_state& e : end)
        e.handle.entry->close(e.handle.gen);
}

memory_transport::~memory_transport() {
    // The last handle on this end: like a socket whose last reference goes,
    // the peer sees the end of the stream after what was written.
    end_here(false);
}

io_attempt memory_transport::try_receive(char* buf, std::size_t n) {
    io_attempt a;
    // The edge count first, then the state: a write after the check below
    // raises an edge after it, and the reader's io_wait sees the change.
    a.seq = handle().entry->seq(io_dir::read);
    bool resumed = false;
    {
        std::lock_guard lock(pipe_->mutex);
        memory_pipe::end_state& me = pipe_->end[side_];
        memory_pipe::direction& in = pipe_->dir[peer()];
        if (me.closed) {
            a.closed = true;
            return a;
        }
        if (in.reset) {
            a.err = ECONNRESET;
            return a;
        }
        std::size_t k = std::min(n, in.unread());
        if (k == 0) {
            if (in.eof) {
                a.n = 0;
            } else {
                a.again = true;
            }
            return a;
        }
        std::memcpy(buf, in.buf.data() + in.pos, k);
        in.pos += k;
        if (in.pos == in.buf.size()) {
            in.buf.clear();
            in.pos = 0;
        } else if (in.pos >= in.buf.size() / 2) {
            in.buf.erase(0, in.pos);  // amortized: the front goes once it is half
            in.pos = 0;
        }
        memory_pipe::end_state& writer = pipe_->end[peer()];
        if (writer.paused && in.unread() <= writer.low) {
            writer.paused = false;
            resumed = true;
        }
        a.n = static_cast<ssize_t>(k);
    }
    if (resumed) notify(peer(), io_dir::write);  // the writer's drain()
    return a;
}

void memory_transport::write(std::string_view data) {
    {
        std::lock_guard lock(pipe_->mutex);
        memory_pipe::end_state& me = pipe_->end[side_];
        memory_pipe::direction& out = pipe_->dir[side_];
        if (me.closed) throw closed_error("weft::stream_writer::write: the stream is closed");
        if (out.eof) {
            throw std::logic_error("weft::stream_writer::write: cannot write after write_eof()");
        }
        if (pipe_->end[peer()].closed) {
            // The peer's end is gone: as a socket whose peer closed.
            throw_io_error("weft::stream_writer::write", EPIPE);
        }
        if (data.empty()) return;
        out.buf.append(data);
        if (!me.paused && out.unread() > me.high) me.paused = true;
    }
    notify(peer(), io_dir::read);
}

task<void> memory_transport::drain() {
    for (;;) {
        std::uint64_t seen =
            handle().entry->seq(io_dir::write);  // before the state: see try_receive
        {
            std::lock_guard lock(pipe_->mutex);
            memory_pipe::end_state& me = pipe_->end[side_];
            if (me.paused && (me.closed || pipe_->end[peer()].closed)) {
                // asyncio's _drain_helper after connection_lost: what was
                // queued will never be read.
                throw connection_error(std::make_error_code(std::errc::connection_reset),
                                       "weft::stream_writer::drain: connection lost");
            }
            if (!me.paused) co_return;
        }
        co_await io_wait(handle(), io_dir::write, seen);
    }
}

void memory_transport::write_eof() {
    {
        std::lock_guard lock(pipe_->mutex);
        memory_pipe::direction& out = pipe_->dir[side_];
        if (pipe_->end[side_].closed || out.eof) return;
        out.eof = true;
    }
    notify(peer(), io_dir::read);
}

void memory_transport::end_here(bool reset) {
    {
        std::lock_guard lock(pipe_->mutex);
        memory_pipe::end_state& me = pipe_->end[side_];
        memory_pipe::direction& out = pipe_->dir[side_];
        if (me.closed && !(reset && !out.reset)) return;
        me.closed = true;
        out.eof = true;
        if (reset) {
            out.reset = true;
            out.buf.clear();
            out.pos = 0;
        }
    }
    // Our own waiters (a read or drain pending on this end) find it closed;
    // the peer's reader finds the end of the stream, its drain() the loss.
    notify(side_, io_dir::read);
    notify(side_, io_dir::write);
    notify(peer(), io_dir::read);
    notify(peer(), io_dir::write);
}

void memory_transport::close() {
    end_here(false);
}

void memory_transport::abort() {
    end_here(true);
}

bool memory_transport::is_closing() const {
    std::lock_guard lock(pipe_->mutex);
    return pipe_->end[side_].closed;
}

task<void> memory_transport::wait_closed() {
    for (;;) {
        std::uint64_t seen = handle().entry->seq(io_dir::write);
        if (is_closing()) co_return;  // nothing to flush: closed at once
        co_await io_wait(handle(), io_dir::write, seen);
    }
}

std::size_t memory_transport::write_buffer_size() const {
    std::lock_guard lock(pipe_->mutex);
    return pipe_->dir[side_].unread();
}

void memory_transport::set_write_buffer_limits(std::size_t high, std::size_t low) {
    bool resumed = false;
    {
        std::lock_guard lock(pipe_->mutex);
        memory_pipe::end_state& me = pipe_->end[side_];
        me.high = high;
        me.low = low;
        std::size_t queued = pipe_->dir[side_].unread();
        if (!me.paused && queued > high) {
            me.paused = true;
        } else if (me.paused && queued <= low) {
            me.paused = false;
            resumed = true;
        }
    }
    if (resumed) notify(side_, io_dir::write);
}

std::pair<std::size_t, std::size_t> memory_transport::write_buffer_limits() const {
    std::lock_guard lock(pipe_->mutex);
    return {pipe_->end[side_].low, pipe_->end[side_].high};
}

std::pair<std::shared_ptr<transport>, std::shared_ptr<transport>> make_memory_pair() {
    auto pipe = std::make_shared<memory_pipe>();
    return {std::make_shared<memory_transport>(pipe, 0),
            std::make_shared<memory_transport>(pipe, 1)};
}

}  // namespace weft::detail

namespace weft {

std::pair<std::pair<stream_reader, stream_writer>, std::pair<stream_reader, stream_writer>>
open_memory_pair(std::size_t limit) {
    auto [a, b] = detail::make_memory_pair();
    return {detail::make_streams(std::move(a), limit), detail::make_streams(std::move(b), limit)};
}

}  // namespace weft
