// open_memory_pair: two stream pairs connected in memory. The reader's and
// writer's contracts as over a socket (both directions, write_eof, close,
// abort, flow control, cancellation losing nothing, the reader's limit;
// start_tls refusing it is in tests/tls),
// and a producer and a consumer on different workers in Go mode.
#include <atomic>
#include <string>
#include <vector>

#include "io_test.hpp"

namespace {

using weft_io_test::io_modes;

class MemoryPair : public io_modes {};
WEFT_IO_MODES(MemoryPair);

TEST_P(MemoryPair, BothDirectionsAndTheEndOfEach) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::open_memory_pair();
        auto& [ra, wa] = a;
        auto& [rb, wb] = b;
        wa.write("ping\n");
        wa.write("two ");
        wa.write("pieces\n");
        EXPECT_EQ(co_await rb.readline(), "ping\n");
        EXPECT_EQ(co_await rb.readline(), "two pieces\n");
        wb.write("pong\n");
        EXPECT_EQ(co_await ra.readexactly(5), "pong\n");

        // A read waits for the write that comes later.
        auto later = weft::create_task(rb.readuntil("!"));
        co_await weft::sleep(0.01);
        EXPECT_FALSE(later.done());
        wa.write("at last!");
        EXPECT_EQ(co_await later, "at last!");

        // write_eof: the end of a's direction only.
        EXPECT_TRUE(wa.can_write_eof());
        wa.write("tail");
        wa.write_eof();
        EXPECT_THROW(wa.write("more"), std::logic_error);
        EXPECT_EQ(co_await rb.read(), "tail");
        EXPECT_TRUE(rb.at_eof());
        wb.write("still open\n");
        EXPECT_EQ(co_await ra.readline(), "still open\n");
        EXPECT_EQ(wa.peername().to_string(), weft::socket_address().to_string());
    }());
}

TEST_P(MemoryPair, CloseIsTheEndAfterWhatWasWritten) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::open_memory_pair();
        auto& [ra, wa] = a;
        auto& [rb, wb] = b;
        auto pending = weft::create_task(ra.read(10));  // a read on the side that closes
        co_await weft::sleep(0.01);
        wa.write("last words");
        wa.close();
        EXPECT_TRUE(wa.is_closing());
        co_await wa.wait_closed();
        bool closed = false;
        try {
            co_await pending;
        } catch (const weft::closed_error&) {
            closed = true;
        }
        EXPECT_TRUE(closed) << "a read pending on a stream closed under it raises closed_error";
        EXPECT_THROW(wa.write("x"), weft::closed_error);
        // The other side reads what was written, then the end.
        EXPECT_EQ(co_await rb.read(), "last words");
        EXPECT_TRUE(rb.at_eof());
        // Writing to a side whose peer is gone: a broken pipe.
        bool broken = false;
        try {
            wb.write("anyone?");
        } catch (const weft::connection_error& e) {
            broken = e.code() == std::errc::broken_pipe;
        }
        EXPECT_TRUE(broken);
    }());
}

TEST_P(MemoryPair, AbortDropsWhatWasNotReadAndResetsThePeer) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::open_memory_pair();
        auto& [ra, wa] = a;
        auto& [rb, wb] = b;
        wa.write("never read");
        wa.abort();
        bool reset = false;
        try {
            co_await rb.read(100);
        } catch (const weft::connection_error& e) {
            reset = e.code() == std::errc::connection_reset;
        }
        EXPECT_TRUE(reset);
        (void)ra;
        (void)wb;
    }());
}

TEST_P(MemoryPair, DrainWaitsUntilThePeerReadsDownToTheLowWaterMark) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::open_memory_pair();
        auto& [ra, wa] = a;
        auto& [rb, wb] = b;
        wa.set_write_buffer_limits(1000, 100);
        EXPECT_EQ(wa.write_buffer_limits(), (std::pair<std::size_t, std::size_t>{100, 1000}));
        std::string big(5000, 'x');
        wa.write(big);
        EXPECT_EQ(wa.write_buffer_size(), 5000u);
        auto draining = weft::create_task(wa.drain());
        co_await weft::sleep(0.01);
        EXPECT_FALSE(draining.done()) << "nobody read: drain() must wait";
        // read(n) with nothing buffered receives at most n: the rest stays
        // queued on the writer's side.
        EXPECT_EQ((co_await rb.read(4000)).size(), 4000u);
        co_await weft::sleep(0.01);
        EXPECT_FALSE(draining.done()) << "1000 unread is above the low water mark";
        EXPECT_EQ((co_await rb.read(950)).size(), 950u);
        co_await draining;  // 50 unread
        EXPECT_EQ(wa.write_buffer_size(), 50u);

        // The reader goes away with bytes unread: drain() raises.
        wa.write(big);
        auto lost = weft::create_task(wa.drain());
        co_await weft::sleep(0.01);
        wb.close();
        bool raised = false;
        try {
            co_await lost;
        } catch (const weft::connection_error&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        (void)ra;
    }());
}

TEST_P(MemoryPair, CancelledReadsLoseNoBytes) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::open_memory_pair();
        auto& [ra, wa] = a;
        auto& [rb, wb] = b;
        std::string got;
        for (int i = 0; i < 20; ++i) {
            try {
                got += co_await weft::wait_for(rb.read(3), 0.001);
            } catch (const weft::timeout_error&) {
            }
            if (i % 2 == 0) wa.write("abcde");
        }
        wa.close();
        got += co_await rb.read();
        std::string expected;
        for (int i = 0; i < 10; ++i)
            expected += "abcde";
        EXPECT_EQ(got, expected);
        (void)ra;
        (void)wb;
    }());
}

TEST_P(MemoryPair, TheReadersLimitHolds) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::open_memory_pair(16);
        auto& [ra, wa] = a;
        auto& [rb, wb] = b;
        wa.write("a line much longer than sixteen bytes\nshort\n");
        // asyncio's readline: ValueError, and the long line is dropped.
        EXPECT_THROW(co_await rb.readline(), std::invalid_argument);
        EXPECT_EQ(co_await rb.readline(), "short\n");
        wa.write("0123456789abcdefghij;");
        EXPECT_THROW(co_await rb.readuntil(";"), weft::limit_overrun_error);
        (void)ra;
        (void)wb;
    }());
}

// A producer and a consumer as separate tasks (on different workers in Go
// mode), with a small high water mark so that drain() waits often: every
// byte arrives, in order.
TEST_P(MemoryPair, ProducerAndConsumerAcrossWorkers) {
    run([]() -> weft::task<void> {
        auto [a, b] = weft::open_memory_pair();
        auto& [ra, wa] = a;
        auto& [rb, wb] = b;
        wa.set_write_buffer_limits(256, 64);
        constexpr int messages = 5000;
        auto producer = weft::create_task([](weft::stream_writer w) -> weft::task<void> {
            for (int i = 0; i < messages; ++i) {
                w.write(std::to_string(i) + "\n");
                co_await w.drain();
            }
            w.write_eof();
        }(wa));
        auto consumer = weft::create_task([](weft::stream_reader r) -> weft::task<int> {
            int next = 0;
            for (;;) {
                std::string line = co_await r.readline();
                if (line.empty()) break;
                if (line != std::to_string(next) + "\n") co_return -1;
                ++next;
            }
            co_return next;
        }(rb));
        co_await producer;
        EXPECT_EQ(co_await consumer, messages);
        (void)ra;
        (void)wb;
    }());
}

}  // namespace
