// Signal handlers on the loop (asyncio's add_signal_handler), in both
// modes: delivery as loop callbacks, removal restoring the previous action
// (such as a runner's SIGINT handler), and cleanup at shutdown.
#include <atomic>

#include <signal.h>
#include <unistd.h>

#include "io_test.hpp"

namespace {

using weft_io_test::io_modes;

class Signals : public io_modes {};
WEFT_IO_MODES(Signals);

std::atomic<int> plain_handler_calls{0};
extern "C" void plain_handler(int) {
    plain_handler_calls.fetch_add(1);
}

void (*current_handler(int sig))(int) {
    struct sigaction sa {};
    ::sigaction(sig, nullptr, &sa);
    return sa.sa_handler;
}

TEST_P(Signals, HandlerRunsOnTheLoop) {
    run([]() -> weft::task<void> {
        weft::future<void> got;
        weft::event_loop* ran_on = nullptr;
        weft::add_signal_handler(SIGUSR1, [&] {
            ran_on = weft::event_loop::current();
            got.try_set_result();
        });
        ::kill(::getpid(), SIGUSR1);
        co_await weft::wait_for(got, 5.0);
        EXPECT_NE(ran_on, nullptr);
        EXPECT_TRUE(weft::remove_signal_handler(SIGUSR1));
        EXPECT_FALSE(weft::remove_signal_handler(SIGUSR1));
    }());
    EXPECT_EQ(current_handler(SIGUSR1), SIG_DFL);
}

TEST_P(Signals, EachArrivalIsACall) {
    run([]() -> weft::task<void> {
        int calls = 0;
        weft::add_signal_handler(SIGUSR2, [&] { ++calls; });
        for (int i = 0; i < 3; ++i) {
            ::kill(::getpid(), SIGUSR2);
            for (int j = 0; j < 500 && calls <= i; ++j)
                co_await weft::sleep(0.002);
        }
        EXPECT_EQ(calls, 3);
        weft::remove_signal_handler(SIGUSR2);
    }());
}

TEST_P(Signals, RemovingRestoresThePreviousAction) {
    // As a runner's SIGINT handler would be.
    struct sigaction mine {
    }, old{};
    mine.sa_handler = &plain_handler;
    sigemptyset(&mine.sa_mask);
    ::sigaction(SIGINT, &mine, &old);
    plain_handler_calls = 0;
    run([]() -> weft::task<void> {
        weft::future<void> got;
        weft::add_signal_handler(SIGINT, [&] { got.try_set_result(); });
        ::kill(::getpid(), SIGINT);
        co_await weft::wait_for(got, 5.0);
        EXPECT_EQ(plain_handler_calls.load(), 0) << "ours replaces it while installed";
        weft::remove_signal_handler(SIGINT);
        EXPECT_EQ(current_handler(SIGINT), &plain_handler);
        ::kill(::getpid(), SIGINT);
        for (int i = 0; i < 500 && plain_handler_calls.load() == 0; ++i)
            co_await weft::sleep(0.002);
        EXPECT_EQ(plain_handler_calls.load(), 1);
    }());
    ::sigaction(SIGINT, &old, nullptr);
}

TEST_P(Signals, ShutdownRemovesTheHandlers) {
    run([]() -> weft::task<void> {
        weft::add_signal_handler(SIGUSR1, [] {});
        weft::add_signal_handler(SIGUSR2, [] {});
        EXPECT_NE(current_handler(SIGUSR1), SIG_DFL);
        co_return;
    }());
    EXPECT_EQ(current_handler(SIGUSR1), SIG_DFL);
    EXPECT_EQ(current_handler(SIGUSR2), SIG_DFL);
}

TEST_P(Signals, ReplacingAHandler) {
    run([]() -> weft::task<void> {
        weft::future<int> which;
        weft::add_signal_handler(SIGUSR1, [&] { which.try_set_result(1); });
        weft::add_signal_handler(SIGUSR1, [&] { which.try_set_result(2); });
        ::kill(::getpid(), SIGUSR1);
        EXPECT_EQ(co_await weft::wait_for(which, 5.0), 2);
        weft::remove_signal_handler(SIGUSR1);
    }());
}

TEST_P(Signals, HandlerExceptionsGoToTheExceptionHandler) {
    run([]() -> weft::task<void> {
        weft::future<std::string> reported;
        weft::get_running_loop().set_exception_handler(
            [&](weft::event_loop&, const weft::exception_context& c) {
                reported.try_set_result(weft::describe(c.exception));
            });
        weft::add_signal_handler(SIGUSR2, [] { throw std::runtime_error("from a handler"); });
        ::kill(::getpid(), SIGUSR2);
        EXPECT_EQ(co_await weft::wait_for(reported, 5.0), "std::runtime_error: from a handler");
        weft::remove_signal_handler(SIGUSR2);
    }());
}

TEST_P(Signals, BadSignals) {
    run([]() -> weft::task<void> {
        EXPECT_THROW(weft::add_signal_handler(SIGKILL, [] {}), std::invalid_argument);
        EXPECT_THROW(weft::add_signal_handler(SIGSTOP, [] {}), std::invalid_argument);
        EXPECT_THROW(weft::add_signal_handler(0, [] {}), std::invalid_argument);
        EXPECT_THROW(weft::add_signal_handler(1000, [] {}), std::invalid_argument);
        EXPECT_THROW(weft::add_signal_handler(SIGUSR1, nullptr), std::invalid_argument);
        EXPECT_FALSE(weft::remove_signal_handler(SIGUSR1));
        co_return;
    }());
    EXPECT_THROW(weft::add_signal_handler(SIGUSR1, [] {}), weft::no_running_loop_error);
}

}  // namespace
