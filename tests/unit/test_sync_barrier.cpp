// barrier: asyncio.Barrier's behaviour (the trace below is CPython 3.11's and
// 3.13's for the same program), error paths, cancellation.
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

using log_t = std::vector<std::string>;

weft::task<void> party(std::string name, weft::barrier* b, log_t* log) {
    try {
        std::size_t i = co_await b->wait();
        log->push_back(name + " index " + std::to_string(i));
    } catch (const weft::broken_barrier_error& e) {
        log->push_back(name + " broken: " + e.what());
    }
}

std::vector<weft::task_handle<void>> parties(const char* names, weft::barrier* b, log_t* log) {
    std::vector<weft::task_handle<void>> ts;
    for (const char* n = names; *n; ++n)
        ts.push_back(weft::create_task(party(std::string(1, *n), b, log)));
    return ts;
}

weft::task<void> join_all(std::vector<weft::task_handle<void>> ts) {
    for (auto& t : ts) {
        try {
            co_await t;
        } catch (const weft::cancelled_error&) {
        }
    }
}

TEST(Barrier, RejectsZeroParties) {
    EXPECT_THROW(weft::barrier(0), std::invalid_argument);
    weft::barrier b(2);
    EXPECT_EQ(b.parties(), 2u);
    EXPECT_EQ(b.n_waiting(), 0u);
    EXPECT_FALSE(b.broken());
}

// The trace of asyncio's program, line for line.
TEST(Barrier, FillsDrainsAbortsAndResetsAsAsyncio) {
    weft::run(
        []() -> weft::task<void> {
            weft::barrier b(3);
            log_t log;
            auto ts = parties("ABC", &b, &log);
            co_await weft::sleep(0);
            log.push_back("n_waiting " + std::to_string(b.n_waiting()));
            co_await join_all(std::move(ts));
            log.push_back("after: n_waiting " + std::to_string(b.n_waiting()) + " broken " +
                          (b.broken() ? "True" : "False"));
            co_await join_all(parties("DEFGHI", &b, &log));  // reused twice
            ts = parties("JK", &b, &log);
            co_await weft::sleep(0);
            co_await b.abort();
            co_await join_all(std::move(ts));
            log.push_back(std::string("broken ") + (b.broken() ? "True" : "False") + " n_waiting " +
                          std::to_string(b.n_waiting()));
            co_await party("L", &b, &log);
            co_await b.reset();
            log.push_back(std::string("broken ") + (b.broken() ? "True" : "False"));
            ts = parties("MN", &b, &log);
            co_await weft::sleep(0);
            co_await b.reset();
            co_await join_all(std::move(ts));
            co_await join_all(parties("OPQ", &b, &log));
            ts = parties("RS", &b, &log);
            co_await weft::sleep(0);
            ts[0].cancel();
            co_await weft::sleep(0);
            log.push_back("n_waiting " + std::to_string(b.n_waiting()));
            for (auto& t : parties("TU", &b, &log))
                ts.push_back(t);
            co_await join_all(std::move(ts));

            const std::string reset = "broken: weft::barrier: abort or reset of barrier";
            const std::string aborted = "broken: weft::barrier: barrier aborted";
            EXPECT_EQ(log, (log_t{"C index 2",
                                  "n_waiting 0",
                                  "A index 0",
                                  "B index 1",
                                  "after: n_waiting 0 broken False",
                                  "F index 2",
                                  "D index 0",
                                  "E index 1",
                                  "I index 2",
                                  "G index 0",
                                  "H index 1",
                                  "J " + reset,
                                  "K " + reset,
                                  "broken True n_waiting 0",
                                  "L " + aborted,
                                  "broken False",
                                  "M " + reset,
                                  "N " + reset,
                                  "Q index 2",
                                  "O index 0",
                                  "P index 1",
                                  "n_waiting 1",
                                  "U index 2",
                                  "S index 1",
                                  "T index 1"}));
        }(),
        {.threads = 1});
}

TEST(Barrier, EveryPartyGetsADistinctIndexInAnyMode) {
    weft::run([]() -> weft::task<void> {
        weft::barrier b(4);
        for (int round = 0; round < 3; ++round) {
            std::vector<weft::task_handle<std::size_t>> ts;
            for (int i = 0; i < 4; ++i) {
                ts.push_back(weft::create_task([](weft::barrier* br) -> weft::task<std::size_t> {
                    co_return co_await br->wait();
                }(&b)));
            }
            std::vector<bool> seen(4, false);
            for (auto& t : ts) {
                std::size_t i = co_await t;
                EXPECT_LT(i, 4u);
                if (i >= 4) continue;
                EXPECT_FALSE(seen[i]) << "index " << i << " twice";
                seen[i] = true;
            }
        }
        EXPECT_EQ(b.n_waiting(), 0u);
    }());
}

}  // namespace
