// barrier hammered from several workers at once (runs under ThreadSanitizer
// in CI): in every round no party leaves before all have arrived, the
// arrival indices are distinct, and a lost wake-up hangs the test.
#include <array>
#include <atomic>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

constexpr int parties = 8;
constexpr int rounds = 1000;

struct round_record {
    std::atomic<int> arrived{0};
    std::array<std::atomic<int>, parties> index_seen{};
};

weft::task<void> party(weft::barrier* b, std::vector<round_record>* log) {
    for (int r = 0; r < rounds; ++r) {
        round_record& rec = (*log)[static_cast<std::size_t>(r)];
        rec.arrived.fetch_add(1);
        std::size_t i = co_await b->wait();
        EXPECT_EQ(rec.arrived.load(), parties) << "left round " << r << " before all arrived";
        EXPECT_LT(i, static_cast<std::size_t>(parties));
        if (i < static_cast<std::size_t>(parties)) {
            EXPECT_EQ(rec.index_seen[i].fetch_add(1), 0)
                << "index " << i << " twice in round " << r;
        }
        if (r % 4 == 0) co_await weft::yield_now();
    }
}

TEST(BarrierStress, EveryRoundWaitsForAllPartiesAcrossWorkers) {
    std::vector<round_record> log(rounds);
    weft::run(
        [](std::vector<round_record>* lg) -> weft::task<void> {
            weft::barrier b(parties);
            std::vector<weft::task_handle<void>> ts;
            for (int i = 0; i < parties; ++i)
                ts.push_back(weft::create_task(party(&b, lg)));
            for (auto& t : ts)
                co_await t;
            EXPECT_EQ(b.n_waiting(), 0u);
            EXPECT_FALSE(b.broken());
        }(&log),
        {.threads = 4});
}

TEST(BarrierStress, AbortReleasesEveryWaiterAcrossWorkers) {
    weft::run(
        []() -> weft::task<void> {
            for (int round = 0; round < 500; ++round) {
                weft::barrier b(parties + 1);  // never fills: only abort ends the wait
                std::atomic<int> broken{0};
                std::vector<weft::task_handle<void>> ts;
                for (int i = 0; i < parties; ++i) {
                    ts.push_back(weft::create_task(
                        [](weft::barrier* br, std::atomic<int>* bk) -> weft::task<void> {
                            try {
                                co_await br->wait();
                                ADD_FAILURE() << "an unfilled barrier let a party through";
                            } catch (const weft::broken_barrier_error&) {
                                bk->fetch_add(1);
                            }
                        }(&b, &broken)));
                }
                co_await weft::yield_now();
                co_await b.abort();
                for (auto& t : ts)
                    co_await t;
                EXPECT_EQ(broken.load(), parties) << "round " << round;
                EXPECT_TRUE(b.broken());
                co_await b.reset();
                EXPECT_FALSE(b.broken());
            }
        }(),
        {.threads = 4});
}

}  // namespace
