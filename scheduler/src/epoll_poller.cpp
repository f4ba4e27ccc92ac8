// epoll behind detail::poller: the one place that speaks EPOLL* bits.
#include <cerrno>
#include <string>
#include <system_error>

#include <sys/epoll.h>
#include <unistd.h>

#include <weft/detail/completion_queue.hpp>
#include <weft/detail/poller.hpp>
#include <weft/detail/tsan.hpp>

namespace weft::detail {

namespace {

[[noreturn]] void fail(const char* op, int fd) {
    throw std::system_error(errno, std::generic_category(),
                            std::string("weft: ") + op + " fd " + std::to_string(fd));
}

// Two small maps rather than equal values: the readiness bits stay weft's,
// and a few branches on a register cost nothing beside the syscall.
std::uint32_t to_epoll(std::uint32_t r) noexcept {
    std::uint32_t e = 0;
    if (r & readiness::readable) e |= EPOLLIN;
    if (r & readiness::writable) e |= EPOLLOUT;
    if (r & readiness::peer_closed) e |= EPOLLRDHUP;
    if (r & readiness::edge) e |= EPOLLET;
    // hangup and error: epoll always reports them.
    return e;
}

std::uint32_t from_epoll(std::uint32_t e) noexcept {
    std::uint32_t r = 0;
    if (e & EPOLLIN) r |= readiness::readable;
    if (e & EPOLLOUT) r |= readiness::writable;
    if (e & EPOLLRDHUP) r |= readiness::peer_closed;
    if (e & EPOLLHUP) r |= readiness::hangup;
    if (e & EPOLLERR) r |= readiness::error;
    return r;
}

class epoll_poller final : public poller {
public:
    epoll_poller() {
        epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0)
            throw std::system_error(errno, std::generic_category(), "weft: epoll_create1");
    }
    ~epoll_poller() override {
        ::close(epfd_);
        forget_socket_completions();
    }

    void add(int fd, std::uint32_t events, poll_target* target) override {
        epoll_event ev{};
        ev.events = to_epoll(events);
        ev.data.ptr = target;
        tsan_release_object(target);  // pairs with the acquire in wait()
        if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) fail("epoll_ctl(ADD)", fd);
        registered_.fetch_add(1, std::memory_order_relaxed);
    }

    void modify(int fd, std::uint32_t events, poll_target* target) override {
        epoll_event ev{};
        ev.events = to_epoll(events);
        ev.data.ptr = target;
        tsan_release_object(target);  // pairs with the acquire in wait()
        if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) < 0) fail("epoll_ctl(MOD)", fd);
    }

    void remove(int fd) noexcept override {
        if (::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) == 0) {
            registered_.fetch_sub(1, std::memory_order_relaxed);
        }
    }

    void forget(int fd) noexcept override {
        ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
        registered_.fetch_sub(1, std::memory_order_relaxed);
    }

    int fd() const noexcept override { return epfd_; }

    int wait(std::int64_t timeout_ns) override {
        constexpr int max_events = 128;
        epoll_event events[max_events];
        int n;
        if (timeout_ns < 0) {
            n = ::epoll_wait(epfd_, events, max_events, -1);
        } else {
            // epoll_pwait2 takes nanoseconds: timers fire on time instead of
            // up to a millisecond late.
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
            target->on_events(target, from_epoll(events[i].events));
        }
        return n;
    }

private:
    int epfd_ = -1;
};

}  // namespace

std::unique_ptr<poller> make_epoll_poller() {
    return std::make_unique<epoll_poller>();
}

}  // namespace weft::detail
