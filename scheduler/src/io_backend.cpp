// Choosing the poller's backend: run_options::io, WEFT_IO, and the probe
// behind "auto" (docs/io.md, "Backends").
#include <atomic>
#include <cstdlib>
#include <string>

#include <weft/detail/completion_queue.hpp>
#include <weft/detail/poller.hpp>
#include <weft/errors.hpp>
#include <weft/io_backend.hpp>
#include <weft/log.hpp>

namespace weft {

namespace detail {
std::unique_ptr<poller> make_epoll_poller();
#if WEFT_HAVE_URING
std::unique_ptr<poller> make_uring_poller();
io_uring_support probe_uring();
#endif
}  // namespace detail

const char* to_string(io_backend b) noexcept {
    switch (b) {
        case io_backend::epoll:
            return "epoll";
        case io_backend::uring:
            return "uring";
        case io_backend::probe:
            return "auto";
        case io_backend::automatic:
            break;
    }
    return "automatic";
}

io_backend parse_io_backend(std::string_view text, std::string_view source) {
    if (text == "epoll") return io_backend::epoll;
    if (text == "uring") return io_backend::uring;
    if (text == "auto") return io_backend::probe;
    throw configuration_error(std::string(source),
                              "must be epoll, uring or auto, got '" + std::string(text) + "'");
}

detail::completion_queue* detail::completions_of(detail::poller& p) noexcept {
    // Only the io_uring backend is one (a cross cast: RTTI finds it).
    return dynamic_cast<detail::completion_queue*>(&p);
}

namespace {
// Bumped when a poller goes away; socket_completions' answers are for the
// epoch they were found in.
std::atomic<std::uint64_t> poller_epoch{0};
}  // namespace

void detail::forget_socket_completions() noexcept {
    // release: pairs with the acquire in socket_completions, on a thread
    // that drives a poller made after this one was destroyed.
    poller_epoch.fetch_add(1, std::memory_order_release);
}

detail::completion_queue* detail::socket_completions(detail::poller& p) noexcept {
    struct answer {
        detail::poller* p = nullptr;
        detail::completion_queue* q = nullptr;
        std::uint64_t epoch = ~std::uint64_t{0};
    };
    thread_local answer last;
    std::uint64_t epoch = poller_epoch.load(std::memory_order_acquire);
    if (last.p == &p && last.epoch == epoch) return last.q;
    detail::completion_queue* q = completions_of(p);
    if (q != nullptr && !q->takes_sockets()) q = nullptr;
    last = {&p, q, epoch};
    return q;
}

io_uring_support probe_io_uring() {
#if WEFT_HAVE_URING
    return detail::probe_uring();
#else
    return {false, "weft was built without liburing (Debian: liburing-dev)"};
#endif
}

namespace {

// "auto" says once which backend runs and why, and again only if a later
// probe comes to the other answer: a program that makes many loops is not
// told the same thing many times.
void say_choice(bool uring, const std::string& why) noexcept {
    // 0: nothing said yet, 1: said uring, 2: said epoll. Relaxed: only
    // keeps repeats down; two threads racing may both say it.
    static std::atomic<int> said{0};
    int now = uring ? 1 : 2;
    if (said.exchange(now, std::memory_order_relaxed) == now) return;
    if (uring) {
        log(log_level::info, "weft: I/O on io_uring (WEFT_IO=auto: " + why + ")");
    } else {
        log(log_level::warning, "weft: I/O on epoll (WEFT_IO=auto: " + why + ")");
    }
}

}  // namespace

io_backend resolve_io_backend(io_backend requested) {
    std::string source = "run_options::io";
    if (requested == io_backend::automatic) {
        const char* env = std::getenv("WEFT_IO");
        // Set but empty is unset, as for WEFT_THREADS.
        if (env == nullptr || *env == '\0') return io_backend::epoll;
        requested = parse_io_backend(env, "WEFT_IO");
        source = "WEFT_IO";
    }
    if (requested == io_backend::epoll) return io_backend::epoll;
    io_uring_support support = probe_io_uring();
    if (requested == io_backend::uring) {
        if (!support.available)
            throw configuration_error(source,
                                      "io_uring was asked for but cannot run: " + support.why);
        return io_backend::uring;
    }
    say_choice(support.available, support.why);
    return support.available ? io_backend::uring : io_backend::epoll;
}

namespace detail {

std::unique_ptr<poller> make_poller(io_backend backend) {
    backend = resolve_io_backend(backend);
#if WEFT_HAVE_URING
    if (backend == io_backend::uring) return make_uring_poller();
#endif
    return make_epoll_poller();
}

}  // namespace detail

}  // namespace weft
