// How a thread that drives MPI waits when there is nothing to do. MPI offers
// no descriptor to sleep on: its requests complete only while someone polls
// them. So the thread polls flat out (yielding the core) for a short window
// after the last message, which is when the next one most likely comes (a
// trivial call's reply), then sleeps between polls for a time that grows with
// how long it has been quiet: a call that takes T to run comes back at most
// about T/8 late, and an idle rank costs a wake-up a millisecond.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

namespace weft::detail {

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

    void pause() {
        auto wait = next();
        if (wait.count() == 0) {
            std::this_thread::yield();
        } else {
            std::this_thread::sleep_for(wait);
        }
    }

private:
    bool quiet_ = false;
    std::chrono::steady_clock::time_point since_{};
};

}  // namespace weft::detail
