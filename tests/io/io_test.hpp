// Shared by the weft::io tests: every test runs in asyncio mode (1 thread)
// and in Go mode (2 workers), and checks that it leaves no fd behind.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace weft_io_test {

// The fds open in this process, with what they point at.
inline std::set<std::string> open_fds() {
    std::set<std::string> out;
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) return out;
    int self = ::dirfd(d);
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        int fd = std::atoi(e->d_name);
        if (fd == self) continue;
        char target[256] = {};
        std::string link = std::string("/proc/self/fd/") + e->d_name;
        ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
        out.insert(std::string(e->d_name) + " -> " + (n > 0 ? std::string(target, n) : "?"));
    }
    ::closedir(d);
    return out;
}

// Fixture: the parameter is the thread count; TearDown checks fds.
class io_modes : public ::testing::TestWithParam<int> {
protected:
    void SetUp() override { before_ = open_fds(); }
    void TearDown() override {
        // An fd closed by another thread a moment ago may still be on its way.
        std::set<std::string> after;
        for (int i = 0; i < 100; ++i) {
            after = open_fds();
            if (after == before_) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        std::string leaked, gone;
        for (const auto& f : after)
            if (!before_.count(f)) leaked += "  " + f + "\n";
        EXPECT_TRUE(leaked.empty()) << "fds left open by the test:\n" << leaked;
    }
    int threads() const { return GetParam(); }

    template <class T>
    T run(weft::task<T> main) {
        return weft::run(std::move(main), {.threads = threads()});
    }

private:
    std::set<std::string> before_;
};

inline std::string mode_name(const ::testing::TestParamInfo<int>& info) {
    return info.param == 1 ? "asyncio" : "go" + std::to_string(info.param);
}

// ASSERT_* returns, which a coroutine cannot: this co_returns instead.
#define CO_ASSERT_TRUE(cond)                             \
    do {                                                 \
        if (!(cond)) {                                   \
            ADD_FAILURE() << "assertion failed: " #cond; \
            co_return;                                   \
        }                                                \
    } while (0)

#define WEFT_IO_MODES(suite) \
    INSTANTIATE_TEST_SUITE_P(Modes, suite, ::testing::Values(1, 2), weft_io_test::mode_name)

// Exception-handler reports, from whichever worker makes them.
struct reports {
    std::mutex mutex;
    std::vector<std::string> messages;
    void install(weft::event_loop& loop) {
        loop.set_exception_handler([this](weft::event_loop&, const weft::exception_context& c) {
            std::lock_guard lock(mutex);
            messages.push_back(c.message +
                               (c.exception ? " | " + weft::describe(c.exception) : ""));
        });
    }
    void install() { install(weft::get_running_loop()); }
    std::size_t count() {
        std::lock_guard lock(mutex);
        return messages.size();
    }
    std::string all() {
        std::lock_guard lock(mutex);
        std::string s;
        for (auto& m : messages)
            s += m + "\n";
        return s;
    }
};

}  // namespace weft_io_test
