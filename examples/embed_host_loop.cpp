// A host with its own poll() loop drives weft's single-thread loop: it
// watches weft's pollable_fd() next to its own fd (a timerfd ticking at
// 0.1 s, 0.3 s, 0.5 s), takes weft's next_timeout_ns() as a bound on its wait,
// and calls step() when weft has work. Weft's task prints at 0.2 s, 0.4 s
// and 0.6 s; at each tick the host hands weft a callback with call_soon.
#include <cstdint>
#include <cstdio>

#include <poll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

weft::task<int> weft_side() {
    for (int i = 1; i <= 3; ++i) {
        co_await weft::sleep(0.2);
        std::printf("weft: tick %d\n", i);
    }
    co_return 3;
}

int main(int argc, char** argv) {
    CLI::App app{"embed_host_loop: weft's loop driven by a host's poll() loop"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    if (threads != 1) std::fprintf(stderr, "a host drives weft's single-thread loop: 1 thread\n");

    // The host's own fd: a timer at 0.1 s, then every 0.2 s.
    int timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec spec{};
    spec.it_value.tv_nsec = 100'000'000;
    spec.it_interval.tv_nsec = 200'000'000;
    ::timerfd_settime(timer, 0, &spec, nullptr);

    weft::event_loop loop;
    auto main_task = loop.create_task(weft_side());
    int ticks = 0;
    while (!main_task.done()) {
        // Wait for either side, no longer than weft's next timer.
        std::int64_t ns = loop.next_timeout_ns();
        int ms = ns < 0 ? -1 : static_cast<int>((ns + 999'999) / 1'000'000);
        pollfd fds[2] = {{timer, POLLIN, 0}, {loop.pollable_fd(), POLLIN, 0}};
        int ready = ::poll(fds, 2, ms);
        if (fds[0].revents & POLLIN) {
            std::uint64_t expirations;
            if (::read(timer, &expirations, sizeof expirations) > 0) {
                int n = ++ticks;
                std::printf("host: timer %d\n", n);
                // Between steps the host may queue work: the fd turns readable.
                loop.call_soon([n] { std::printf("weft: called by the host's timer %d\n", n); });
            }
        }
        if (ready == 0 || (fds[1].revents & POLLIN)) loop.step();  // never blocks
    }
    std::printf("done: %d ticks from weft, %d from the host\n", main_task.result(), ticks);
    loop.close();
    ::close(timer);
}
