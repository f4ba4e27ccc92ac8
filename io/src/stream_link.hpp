// What a stream_reader and a stream_writer over one connection (and all
// their copies) share: the transport they talk to. It is the plain one
// until stream_writer::start_tls() puts a TLS transport over it, which
// every copy of the reader and the writer then uses, as asyncio's
// start_tls swaps the transport under the streams.
//
// Cost: one pointer load per read or write call, beside the transport's
// virtual call.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <utility>

#include <weft/io/stream.hpp>

#include "transport.hpp"

namespace weft::detail {

struct reader_state;

struct stream_link {
    explicit stream_link(std::shared_ptr<transport> t) : plain(std::move(t)) {
        current_.store(plain.get(), std::memory_order_relaxed);  // before it is shared
    }

    transport& get() const noexcept {
        // acquire: pairs with upgrade()'s release, so the TLS transport is
        // seen fully built.
        return *current_.load(std::memory_order_acquire);
    }
    // start_tls: from now on `t` (which stays alive as long as the link).
    void upgrade(std::shared_ptr<transport> t) noexcept {
        transport* p = t.get();
        {
            std::lock_guard lock(mutex);
            upgraded = std::move(t);
        }
        current_.store(p, std::memory_order_release);
    }

    const std::shared_ptr<transport> plain;
    std::mutex mutex;  // guards what follows
    std::shared_ptr<transport> upgraded;
    bool upgrading = false;              // a start_tls is under way
    std::weak_ptr<reader_state> reader;  // for its read-ahead at start_tls

private:
    std::atomic<transport*> current_{nullptr};
};

// A reader and a writer sharing one link over `t`.
std::pair<stream_reader, stream_writer> make_streams(std::shared_ptr<transport> t,
                                                     std::size_t limit);

}  // namespace weft::detail
