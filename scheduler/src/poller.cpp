// epoll behind detail::poller.
#include <cerrno>
#include <string>
#include <system_error>

#include <sys/epoll.h>
#include <unistd.h>

#include <weft/detail/poller.hpp>
#include <weft/detail/tsan.hpp>

namespace weft::detail {

namespace {
[[noreturn]] void fail(const char* op, int fd) {
    throw std::system_error(errno, std::generic_category(),
                            std::string("weft: ") + op + " fd " + std::to_string(fd));
}
}  // namespace

poller::poller() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "weft: epoll_create1");
}

poller::~poller() {
    ::close(epfd_);
}

void poller::add(int fd, std::uint32_t events, poll_target* target) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = target;
    tsan_release_object(target);  // pairs with the acquire in wait()
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) fail("epoll_ctl(ADD)", fd);
    registered_.fetch_add(1, std::memory_order_relaxed);
}

void poller::modify(int fd, std::uint32_t events, poll_target* target) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = target;
    tsan_release_object(target);  // pairs with the acquire in wait()
    if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) < 0) fail("epoll_ctl(MOD)", fd);
}

void poller::remove(int fd) noexcept {
    if (::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) == 0) {
        registered_.fetch_sub(1, std::memory_order_relaxed);
    }
}

void poller::forget(int fd) noexcept {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    registered_.fetch_sub(1, std::memory_order_relaxed);
}

int poller::wait(std::int64_t timeout_ns) {
    constexpr int max_events = 128;
    epoll_event events[max_events];
    int n;
    if (timeout_ns < 0) {
        n = ::epoll_wait(epfd_, events, max_events, -1);
    } else {
        // epoll_pwait2 takes nanoseconds: timers fire on time instead of up to
        // a millisecond late.
        timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
                    static_cast<long>(timeout_ns % 1'000'000'000)};
        n = ::epoll_pwait2(epfd_, events, max_events, &ts, nullptr);
        if (n < 0 && errno == ENOSYS) {
            int ms = static_cast<int>((timeout_ns + 999'999) / 1'000'000);
            n = ::epoll_wait(epfd_, events, max_events, ms);
        }
    }
    if (n < 0) {
        if (errno == EINTR) return 0;
        throw std::system_error(errno, std::generic_category(), "weft: epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
        auto* target = static_cast<poll_target*>(events[i].data.ptr);
        tsan_acquire_object(target);
        target->on_events(target, events[i].events);
    }
    return n;
}

}  // namespace weft::detail
