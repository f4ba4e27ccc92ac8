// Other libraries' file descriptors on weft's loops: asyncio's add_reader,
// add_writer, remove_reader, remove_writer, and weft::wait_readable /
// wait_writable built on them.
//
// One watch per fd, shared by its two directions (epoll has one
// registration per fd), in a registry per scheduler (loop_settings: the
// loop's own in asyncio mode, the runtime's in Go mode, so that any worker
// finds a watch another registered). The fd is registered level-triggered,
// as asyncio's selectors are: while it stays readable its reader is queued
// again at every poll.
//
// Lifetime. An epoll event carries a raw pointer to its watch, and in Go mode
// a worker may be dispatching an event for a watch that another worker has
// just removed. So watches are never freed while the registry lives: a
// removed one goes to a free list and is reused. A stale event finds either
// no callback (nothing happens) or a new fd's callback, which is then called
// once without its fd being ready: hence the documented "may find the fd not
// ready".
#include <cerrno>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <fcntl.h>

#include <weft/detail/runtime_core.hpp>
#include <weft/event_loop.hpp>
#include <weft/fd_watch.hpp>
#include <weft/future.hpp>

namespace weft {

namespace detail {

namespace {

// A watch's callback: a handle the loop runs like any call_soon. `queued`
// keeps a level-triggered fd that is polled again before its callback ran
// (Go mode polls between items) from queuing it twice.
struct watch_callback final : callback_base {
    explicit watch_callback(std::function<void()> f)
        : callback_base(&run, &drop, 1), fn(std::move(f)) {}
    static void run(callback_base* b) {
        auto* self = static_cast<watch_callback*>(b);
        // Relaxed: a de-duplication hint. A poll that still sees `true`
        // skips one queuing; the fd, level-triggered, is reported again at
        // the next poll.
        self->queued.store(false, std::memory_order_relaxed);
        self->fn();
    }
    static void drop(callback_base* b) noexcept { delete static_cast<watch_callback*>(b); }

    std::function<void()> fn;
    std::atomic<bool> queued{false};
};

}  // namespace

struct fd_watch final : poll_target {
    fd_registry* registry = nullptr;
    int fd = -1;
    event_loop* loop = nullptr;                  // whose poller has the fd
    watch_callback* cb[2] = {nullptr, nullptr};  // reader, writer
    bool waiter[2] = {false, false};             // cb[d] is a wait_readable/writable's
    std::uint32_t events = 0;                    // registered readiness bits
    fd_watch* next_free = nullptr;
};

struct fd_registry {
    std::mutex mutex;  // guards everything here and in the watches
    std::unordered_map<int, fd_watch*> by_fd;
    std::vector<std::unique_ptr<fd_watch>> all;
    fd_watch* free_list = nullptr;

    ~fd_registry() {
        for (auto& w : all) {
            for (watch_callback*& c : w->cb) {
                if (c != nullptr) std::exchange(c, nullptr)->release();
            }
        }
    }
};

namespace {

fd_registry& registry_of(loop_settings& s) {
    // acquire: pairs with the release CAS below.
    fd_registry* r = s.fds.load(std::memory_order_acquire);
    if (r != nullptr) return *r;
    auto fresh = std::make_unique<fd_registry>();
    if (s.fds.compare_exchange_strong(r, fresh.get(), std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return *fresh.release();
    }
    return *r;  // another thread made it first
}

void on_events(poll_target* self, std::uint32_t events) noexcept {
    auto* w = static_cast<fd_watch*>(self);
    constexpr std::uint32_t trouble = detail::readiness::hangup | detail::readiness::error;
    watch_callback* due[2] = {nullptr, nullptr};
    event_loop* loop;
    {
        std::lock_guard lock(w->registry->mutex);
        loop = w->loop;
        const std::uint32_t wanted[2] = {detail::readiness::readable | trouble,
                                         detail::readiness::writable | trouble};
        for (int d = 0; d < 2; ++d) {
            watch_callback* c = w->cb[d];
            if (c == nullptr || !(events & wanted[d])) continue;
            if (c->queued.exchange(true, std::memory_order_relaxed)) continue;
            c->add_ref();  // the ready queue's reference
            due[d] = c;
        }
    }
    // asyncio's _process_events: the handles join the ready queue during the
    // poll, ahead of the timers that are due.
    for (watch_callback* c : due) {
        if (c != nullptr) loop->push_ready(event_loop::tag_callback(c));
    }
}

std::string fd_what(const char* what, int fd) {
    return std::string(what) + ": fd " + std::to_string(fd);
}

void check_fd(int fd, const char* what) {
    if (fd < 0) {
        throw std::invalid_argument(std::string(what) + ": invalid fd " + std::to_string(fd));
    }
    if (::fcntl(fd, F_GETFD) < 0) {
        throw std::system_error(errno, std::generic_category(), fd_what(what, fd) + " is not open");
    }
}

}  // namespace

}  // namespace detail

detail::loop_settings::~loop_settings() {
    delete fds.load(std::memory_order_relaxed);
}

void event_loop::add_watch(int fd, bool write, std::function<void()> callback, const char* what,
                           bool exclusive) {
    using namespace detail;
    check_fd(fd, what);
    if (!callback) throw std::invalid_argument(std::string(what) + ": empty callback");
    event_loop& l = here(what);
    fd_registry& reg = registry_of(*settings_);
    auto* cb = new watch_callback(std::move(callback));
    std::unique_lock lock(reg.mutex);
    fd_watch* w = nullptr;
    if (auto it = reg.by_fd.find(fd); it != reg.by_fd.end()) w = it->second;
    const int d = write ? 1 : 0;
    // A waiter is never replaced, nor does it replace anything: it would
    // never be woken.
    if (w != nullptr && w->cb[d] != nullptr && (exclusive || w->waiter[d])) {
        lock.unlock();
        cb->release();
        const char* dir = write ? "writer" : "reader";
        throw std::logic_error(
            fd_what(what, fd) +
            (w->waiter[d]
                 ? std::string(" is awaited by a task (wait_") + (write ? "writable)" : "readable)")
                 : std::string(" already has a ") + dir + " (add_" + dir + ")"));
    }
    const std::uint32_t bit = write ? readiness::writable : readiness::readable;
    try {
        if (w == nullptr) {
            w = reg.free_list;
            if (w != nullptr) {
                reg.free_list = w->next_free;
            } else {
                reg.all.push_back(std::make_unique<fd_watch>());
                w = reg.all.back().get();
            }
            w->registry = &reg;
            w->on_events = &on_events;
            w->fd = fd;
            w->loop = &l;
            w->events = bit;
            try {
                l.poller().add(fd, bit, w);
            } catch (...) {
                w->fd = -1;
                w->next_free = reg.free_list;
                reg.free_list = w;
                throw;
            }
            reg.by_fd.emplace(fd, w);
        } else if (!(w->events & bit)) {
            try {
                w->loop->poller().modify(fd, w->events | bit, w);
            } catch (const std::system_error& e) {
                // The fd was closed and its number reused since it was
                // added: epoll dropped the old registration.
                if (e.code().value() != ENOENT) throw;
                w->loop->poller().forget(fd);
                w->loop->poller().add(fd, w->events | bit, w);
            }
            w->events |= bit;
        }
    } catch (const std::system_error& e) {
        lock.unlock();
        cb->release();
        throw std::system_error(e.code(), fd_what(what, fd));
    }
    watch_callback* old = std::exchange(w->cb[d], cb);
    w->waiter[d] = exclusive;
    lock.unlock();
    if (old != nullptr) {
        cancel_callback(old);  // a queued run of the old callback is dropped
        old->release();
    }
}

bool event_loop::remove_watch(int fd, bool write) noexcept {
    using namespace detail;
    fd_registry* reg = settings_->fds.load(std::memory_order_acquire);
    if (reg == nullptr || fd < 0) return false;
    watch_callback* old;
    {
        std::lock_guard lock(reg->mutex);
        auto it = reg->by_fd.find(fd);
        const int d = write ? 1 : 0;
        if (it == reg->by_fd.end() || it->second->cb[d] == nullptr) return false;
        fd_watch* w = it->second;
        old = std::exchange(w->cb[d], nullptr);
        w->waiter[d] = false;
        w->events &= ~(write ? readiness::writable : readiness::readable);
        if (w->events == 0) {
            // Ignores a closed fd: epoll has already dropped it.
            w->loop->poller().forget(fd);
            reg->by_fd.erase(it);
            w->fd = -1;
            w->loop = nullptr;
            w->next_free = reg->free_list;
            reg->free_list = w;
        } else {
            try {
                w->loop->poller().modify(fd, w->events, w);
            } catch (...) {
                // Closed since: nothing to change in epoll.
            }
        }
    }
    cancel_callback(old);
    old->release();
    return true;
}

void event_loop::add_reader(int fd, std::function<void()> callback) {
    add_watch(fd, false, std::move(callback), "weft::event_loop::add_reader", false);
}
void event_loop::add_writer(int fd, std::function<void()> callback) {
    add_watch(fd, true, std::move(callback), "weft::event_loop::add_writer", false);
}
bool event_loop::remove_reader(int fd) {
    if (closed_) return false;
    here("remove_reader");
    return remove_watch(fd, false);
}
bool event_loop::remove_writer(int fd) {
    if (closed_) return false;
    here("remove_writer");
    return remove_watch(fd, true);
}

namespace {

task<void> wait_fd(int fd, bool write) {
    const char* what = write ? "weft::wait_writable" : "weft::wait_readable";
    event_loop& loop = get_running_loop().here(what);
    future<void> ready;
    loop.add_watch(
        fd, write, [ready]() mutable { ready.try_set_result(); }, what, true);
    // However the wait ends (ready, cancelled, a timeout, the task torn
    // down at close), the watch goes.
    struct remover {
        event_loop* loop;
        int fd;
        bool write;
        ~remover() { loop->remove_watch(fd, write); }
    } guard{&loop, fd, write};
    co_await ready;
}

}  // namespace

task<void> wait_readable(int fd) {
    return wait_fd(fd, false);
}
task<void> wait_writable(int fd) {
    return wait_fd(fd, true);
}

}  // namespace weft
