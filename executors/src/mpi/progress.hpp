// How a thread that drives MPI waits when there is nothing to do. MPI offers
// no descriptor to sleep on: its requests complete only while someone polls
// them. So the thread polls flat out (yielding the core) for a short window
// after the last message, which is when the next one most likely comes (a
// trivial call's reply), then sleeps between polls for a time that grows with
// how long it has been quiet: a call that takes T to run comes back at most
// about T/8 late, and an idle rank costs a wake-up a millisecond.
//
// Each poll probes several times. Open MPI 4.1 reads its TCP sockets (its
// event library) only on every eighth call into its progress engine, so a
// single probe per poll sees a message that has arrived only on every
// eighth poll: with sleeps between polls, a trivial call's round trip took
// 3.9 ms instead of 88 us (mpirun -np 2 on 2 cores, weft-mpi-bench --bench
// rtt). More probes than that cost more than they find: each idle probe
// yields the core when MPI runs oversubscribed (64 per poll: 326 us).
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

#include <sys/prctl.h>

namespace weft::detail {

inline constexpr int probes_per_poll = 8;

// A thread that polls MPI sleeps in steps of tens of microseconds, which
// Linux stretches by the thread's timer slack (50 us by default): the
// polling thread asks for 1 us instead. (Only this thread's timers.)
inline void poller_timer_slack() noexcept {
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}

class progress_backoff {
public:
    static constexpr std::chrono::microseconds spin_window{100};
    static constexpr std::chrono::microseconds min_sleep{20};
    static constexpr std::chrono::microseconds max_sleep{1000};

    // Something happened: poll flat out again.
    void reset() noexcept { quiet_ = false; }

    // How long to wait before the next poll (zero: just yield the core).
    std::chrono::microseconds next() noexcept {
        auto now = std::chrono::steady_clock::now();
        if (!quiet_) {
            quiet_ = true;
            since_ = now;
        }
        auto quiet_for = std::chrono::duration_cast<std::chrono::microseconds>(now - since_);
        if (quiet_for < spin_window) return std::chrono::microseconds{0};
        return std::clamp(quiet_for / 8, min_sleep, max_sleep);
    }

private:
    bool quiet_ = false;
    std::chrono::steady_clock::time_point since_{};
};

}  // namespace weft::detail
