// weft::runtime (runtime.hpp): the loops in the background, submission
// from any thread, remote_task's blocking waits, and the shutdown with a
// deadline.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <thread>

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft/detail/runtime_core.hpp>
#include <weft/runtime.hpp>

#include "task_dump_internal.hpp"

namespace weft {

namespace detail {

namespace {

// The futex calls behind a blocking wait: a thread weft does not own sleeps
// in the kernel instead of spinning.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const std::chrono::steady_clock::time_point* until) noexcept {
    timespec ts{};
    timespec* tp = nullptr;
    if (until != nullptr) {
        auto left = *until - std::chrono::steady_clock::now();
        if (left <= std::chrono::nanoseconds::zero()) return;
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        tp = &ts;
    }
    // A relative timeout; EINTR, EAGAIN (the word changed) and timeouts all
    // return to the caller's loop, which looks at the word again.
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, tp,
              nullptr, 0);
}

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX,
              nullptr, nullptr, 0);
}

// How long a blocking wait spins before it sleeps: longer than a trivial
// task's round trip through a loop that is awake, far shorter than the waits
// worth sleeping through.
constexpr std::chrono::microseconds remote_spin{50};

void report(const char* what) noexcept {
    event_loop::default_exception_handler(exception_context{what, std::current_exception(), {}});
}

}  // namespace

void begin_runtime_thread(const thread_setup& setup, unsigned index) noexcept {
    if (!setup.name_prefix.empty()) {
        std::string name = setup.name_prefix + "-" + std::to_string(index);
        name.resize(std::min<std::size_t>(name.size(), 15));  // the kernel's limit
        ::pthread_setname_np(::pthread_self(), name.c_str());
    }
    if (setup.on_start) {
        try {
            setup.on_start();
        } catch (...) {
            report("exception in a weft::runtime on_thread_start hook");
        }
    }
}

void end_runtime_thread(const thread_setup& setup) noexcept {
    if (setup.on_stop) {
        try {
            setup.on_stop();
        } catch (...) {
            report("exception in a weft::runtime on_thread_stop hook");
        }
    }
}

// ---- remote_state_base

remote_state_base::remote_state_base(void (*destroy)(remote_state_base*) noexcept,
                                     std::string name) noexcept
    : destroy_(destroy), name_(std::move(name)) {
    on_done = &on_task_done;
}

remote_state_base::~remote_state_base() {
    if (rec_ != nullptr) rec_->release();
}

bool remote_state_base::wait(const std::chrono::steady_clock::time_point* until, const char* what) {
    if (done()) return true;
    runtime_handle::check_may_block(what);
    // A task that takes a few microseconds is usually done before a sleep
    // would even begin, and a futex sleep and wake-up cost some 10 us of
    // latency on a virtual machine: look for a while first (remote_spin),
    // reading the clock every 64 pauses.
    auto spin_until = std::chrono::steady_clock::now() + remote_spin;
    if (until != nullptr && *until < spin_until) spin_until = *until;
    for (unsigned i = 1;; ++i) {
        if (done()) return true;
        __builtin_ia32_pause();
        if (i % 64 == 0 && std::chrono::steady_clock::now() >= spin_until) break;
    }
    for (;;) {
        // acquire: pairs with publish()'s exchange, so a caller seeing done
        // sees the outcome.
        std::uint32_t w = word_.load(std::memory_order_acquire);
        if (w & done_bit) return true;
        if (until != nullptr && std::chrono::steady_clock::now() >= *until) return false;
        if (!(w & waiters_bit)) {
            // Tell the completer to wake us; it exchanges the whole word.
            if (!word_.compare_exchange_weak(w, w | waiters_bit, std::memory_order_acquire,
                                             std::memory_order_acquire)) {
                continue;
            }
        }
        futex_wait(word_, w | waiters_bit, until);
    }
}

bool remote_state_base::cancel() {
    task_record* r = nullptr;
    {
        std::lock_guard lock(mutex_);
        if (finished_) return false;
        if (rec_ == nullptr) {
            cancel_requested_ = true;  // the starter cancels it before its first step
            return true;
        }
        r = rec_;
        r->add_ref();
    }
    // request_cancel is safe from any thread: the task's hook lock orders it
    // with the loop's steps.
    bool ok = r->request_cancel(nullptr);
    r->release();
    return ok;
}

void remote_state_base::rethrow_if_failed() {
    switch (early_) {
        case early::cancelled:
            throw cancelled_error();
        case early::closed:
            throw runtime_closed_error("weft: the runtime shut down before the task" +
                                       (name_.empty() ? std::string() : " '" + name_ + "'") +
                                       " started");
        case early::none:
            break;
    }
    rec_->rethrow_if_failed("result");
}

void remote_state_base::add_callback(std::function<void()> fn) {
    {
        std::lock_guard lock(mutex_);
        if (!finished_) {
            callbacks_.push_back(std::move(fn));
            return;
        }
    }
    try {
        fn();
    } catch (...) {
        report("exception in a weft::remote_task done callback");
    }
}

bool remote_state_base::add_waiter(waiter* w) {
    std::lock_guard lock(mutex_);
    if (finished_) return false;
    w->prev = nullptr;
    w->next = waiters_;
    if (waiters_ != nullptr) waiters_->prev = w;
    waiters_ = w;
    w->linked = true;
    return true;
}

void remote_state_base::remove_waiter(waiter* w) noexcept {
    std::lock_guard lock(mutex_);
    if (!w->linked) return;
    if (w->prev != nullptr) {
        w->prev->next = w->next;
    } else {
        waiters_ = w->next;
    }
    if (w->next != nullptr) w->next->prev = w->prev;
    w->linked = false;
}

void remote_state_base::finish_early(early how) noexcept {
    {
        std::lock_guard lock(mutex_);
        if (finished_ || rec_ != nullptr) return;  // started: the task's end publishes
        early_ = how;
    }
    publish();
}

bool remote_state_base::attach(task_record* rec) noexcept {
    bool cancel_first;
    {
        std::lock_guard lock(mutex_);
        rec->add_ref();
        rec_ = rec;
        cancel_first = cancel_requested_;
    }
    add_ref();  // for the done-list's node, dropped by on_task_done
    if (!rec->add_done_node(this)) on_task_done(this, rec);
    return !cancel_first;
}

void remote_state_base::on_task_done(done_node* self, future_core*) noexcept {
    auto* s = static_cast<remote_state_base*>(self);
    s->publish();
    s->release();
}

void remote_state_base::publish() noexcept {
    std::vector<std::function<void()>> callbacks;
    std::vector<task_record*> wake;
    {
        std::lock_guard lock(mutex_);
        if (finished_) return;
        finished_ = true;
        callbacks.swap(callbacks_);
        for (waiter* w = waiters_; w != nullptr; w = w->next) {
            w->linked = false;
            // The awaiting task may be resumed (and gone) as soon as it is
            // woken: hold it until then.
            w->task->add_ref();
            try {
                wake.push_back(w->task);
            } catch (...) {
                w->task->release();
                std::terminate();  // cannot lose a wake-up; out of memory here is fatal
            }
        }
        waiters_ = nullptr;
    }
    // release: the outcome written before (early_, the task's result) is
    // visible to whoever sees the bit with acquire.
    std::uint32_t old = word_.exchange(done_bit, std::memory_order_acq_rel);
    if (old & waiters_bit) futex_wake_all(word_);
    for (task_record* t : wake) {
        t->wake();
        t->release();
    }
    for (auto& fn : callbacks) {
        try {
            fn();
        } catch (...) {
            report("exception in a weft::remote_task done callback");
        }
    }
}

// ---- the runtime's state, shared by its handles (and by a thread that
// shutdown abandoned)

class runtime_host {
public:
    // Submissions: the count of those in progress, and a closed bit.
    static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 63;
    bool enter() noexcept {
        // acquire: pairs with close()'s fetch_or; a submission that sees the
        // gate open completes before close() goes on.
        std::uint64_t v = gate_.fetch_add(1, std::memory_order_acquire);
        if (WEFT_UNLIKELY(v & closed_bit)) {
            leave();
            return false;
        }
        return true;
    }
    void leave() noexcept {
        // release: the submission's queueing happens before close()'s
        // acquire load sees the count drop.
        gate_.fetch_sub(1, std::memory_order_release);
    }
    bool is_open() const noexcept {
        return (gate_.load(std::memory_order_relaxed) & closed_bit) == 0;
    }
    // Stops submissions; waits for those in progress (a few instructions).
    // False if it was closed already.
    bool close() noexcept {
        std::uint64_t v = gate_.fetch_or(closed_bit, std::memory_order_acq_rel);
        if (v & closed_bit) return false;
        while ((gate_.load(std::memory_order_acquire) & ~closed_bit) != 0)
            std::this_thread::yield();
        return true;
    }

    // Its own cache line: every submission from every thread touches it.
    alignas(cache_line) std::atomic<std::uint64_t> gate_{0};
    alignas(cache_line) event_loop* post_loop = nullptr;
    thread_setup setup;
    // Single-thread mode: the loop and its thread.
    std::unique_ptr<event_loop> loop;
    std::thread thread;
    std::atomic<bool> stop_requested{false};
    std::mutex exit_mutex;
    std::condition_variable exit_cv;
    bool thread_exited = false;
    // Go mode.
    std::unique_ptr<runtime_core> rt;

    ~runtime_host() {
        if (thread.joinable()) thread.detach();  // only when destroyed by the loop thread itself
    }

    static void loop_main(std::shared_ptr<runtime_host> self) {
        begin_runtime_thread(self->setup, 0);
        event_loop& loop = *self->loop;
        // A task may stop the loop (get_running_loop().stop()); only the
        // shutdown ends this thread.
        while (!self->stop_requested.load(std::memory_order_acquire)) {
            try {
                loop.run_forever();
            } catch (...) {
                report("exception escaped a weft::runtime's event loop");
            }
        }
        try {
            loop.close();  // tasks still pending are reported and destroyed
        } catch (...) {
            report("error while closing a weft::runtime's event loop");
        }
        end_runtime_thread(self->setup);
        {
            std::lock_guard lock(self->exit_mutex);
            self->thread_exited = true;
        }
        self->exit_cv.notify_all();
        // If shutdown abandoned this thread, this is the last reference: the
        // state goes with it.
    }
};

}  // namespace detail

// ---- runtime_handle

detail::runtime_host& runtime_handle::host() const {
    if (host_ == nullptr) throw runtime_closed_error("weft: empty runtime_handle");
    return *host_;
}

runtime_handle::submit_guard::submit_guard(detail::runtime_host& h) : host_(h) {
    if (!h.enter()) {
        throw runtime_closed_error(
            "weft: the runtime has shut down (or is shutting down): it takes no new tasks");
    }
    loop_ = h.post_loop;
}

runtime_handle::submit_guard::~submit_guard() {
    host_.leave();
}

bool runtime_handle::is_open() const noexcept {
    return host_ != nullptr && host_->is_open();
}

void runtime_handle::check_may_block(const char* what) {
    if (event_loop::current() != nullptr) {
        throw blocking_wait_in_loop_error(
            std::string(what) +
            " called on an event loop's thread: waiting there would stop the loop, and "
            "deadlock if the task needs it; co_await the task instead");
    }
}

// ---- shutdown_report

std::string shutdown_report::to_string() const {
    if (clean) return {};
    std::string out = "weft: runtime shutdown: tasks still alive at the deadline\n";
    if (!task_dump.empty()) {
        out += task_dump;
        if (out.back() != '\n') out += '\n';
    } else {
        out += "(no task dump: the loop's thread did not answer)\n";
    }
    if (threads_abandoned) {
        out +=
            "weft: a runtime thread was blocked inside a task step; it was left running "
            "(detached)\n";
    }
    return out;
}

// ---- runtime

runtime::runtime(runtime_options options) : threads_(resolve_threads(options)) {
    const scheduling_model model = resolve_model(options, threads_);
    const io_backend io = resolve_io_backend(options.io);
    if (threads_ > 4096) {
        throw std::invalid_argument("weft::runtime: threads must be at most 4096, got " +
                                    std::to_string(threads_));
    }
    if (options.blocking_threshold.count() < 0) {
        throw std::invalid_argument(
            "weft::runtime: blocking_threshold must be >= 0 (0 turns the monitor off), got " +
            std::to_string(options.blocking_threshold.count()) + " ns");
    }
    if (options.shutdown_timeout.count() < 0) {
        throw std::invalid_argument(
            "weft::runtime: shutdown_timeout must be >= 0 (0: the default, 5 s), got " +
            std::to_string(options.shutdown_timeout.count()) + " ns");
    }
    if (options.shutdown_timeout.count() > 0) shutdown_timeout_ = options.shutdown_timeout;
    host_ = std::make_shared<detail::runtime_host>();
    host_->setup =
        detail::thread_setup{std::move(options.thread_name_prefix),
                             std::move(options.on_thread_start), std::move(options.on_thread_stop)};
    if (model == scheduling_model::asyncio) {
        host_->loop = std::make_unique<event_loop>(io);
        host_->loop->set_debug(options.debug);
        host_->post_loop = host_->loop.get();
        host_->thread = std::thread(&detail::runtime_host::loop_main, host_);
    } else {
        host_->rt = std::make_unique<detail::runtime_core>(
            static_cast<unsigned>(threads_),
            blocking_options{options.blocking_threshold, options.max_blocking_threads}, io);
        host_->rt->set_thread_setup(host_->setup);
        host_->rt->main_loop().set_debug(options.debug);
        host_->post_loop = &host_->rt->main_loop();
        host_->rt->start();
    }
}

runtime::~runtime() {
    try {
        shutdown_report r = shutdown();
        if (!r.empty()) {
            std::string s = r.to_string();
            std::fputs(s.c_str(), stderr);
            std::fflush(stderr);
        }
    } catch (...) {
        detail::report("error while shutting a weft::runtime down");
    }
}

namespace {

// What the shutdown's callbacks on the loop report back.
struct shutdown_sync {
    std::mutex m;
    std::condition_variable cv;
    bool ran = false;
    std::size_t found = 0;
    std::size_t remaining = 0;
    bool dumped = false;
    std::string dump;
};

}  // namespace

std::string detail::dump_tasks_from_outside(event_loop& loop,
                                            std::chrono::steady_clock::time_point until) {
    auto sync = std::make_shared<shutdown_sync>();
    loop.call_soon_threadsafe([sync] {
        std::string s;
        try {
            s = detail::format_tasks_on(*event_loop::current());
        } catch (...) {
            s = "(the task dump failed)\n";
        }
        std::lock_guard lock(sync->m);
        sync->dump = std::move(s);
        sync->dumped = true;
        sync->cv.notify_all();
    });
    std::unique_lock lock(sync->m);
    sync->cv.wait_until(lock, until, [&] { return sync->dumped; });
    return sync->dumped ? sync->dump : std::string();
}

namespace {

// Single-thread mode: asyncio.run's cancellation of what is left, in rounds
// (tasks started by a cleanup are cancelled in the next), until nothing is
// left (true) or the deadline (false).
bool cancel_on_loop(event_loop& loop, std::chrono::steady_clock::time_point deadline) {
    for (int round = 0; round < 8; ++round) {
        auto sync = std::make_shared<shutdown_sync>();
        loop.call_soon_threadsafe([sync] {
            std::vector<task_ref> pending;
            for (detail::task_record* r : event_loop::current()->live_tasks()) {
                if (!r->done()) pending.push_back(task_ref::from_record(r));
            }
            {
                std::lock_guard lock(sync->m);
                sync->ran = true;
                sync->found = sync->remaining = pending.size();
            }
            for (task_ref& t : pending) {
                t.add_done_callback([sync](task_ref&) {
                    std::lock_guard lock(sync->m);
                    if (--sync->remaining == 0) sync->cv.notify_all();
                });
                t.cancel();
            }
            sync->cv.notify_all();
        });
        std::unique_lock lock(sync->m);
        if (!sync->cv.wait_until(lock, deadline,
                                 [&] { return sync->ran && sync->remaining == 0; })) {
            return false;
        }
        if (sync->found == 0) return true;
    }
    return false;
}

}  // namespace

shutdown_report runtime::shutdown(std::chrono::nanoseconds timeout) {
    shutdown_report out;
    if (host_ == nullptr || !host_->close()) return out;
    auto start = std::chrono::steady_clock::now();
    auto deadline = start + std::max(timeout, std::chrono::nanoseconds::zero());
    // After the deadline: a moment for the dump, and one for the loops to
    // stop (ten times longer under a sanitizer, which slows every wake-up).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    constexpr auto grace = std::chrono::milliseconds(200);
#else
    constexpr auto grace = std::chrono::milliseconds(20);
#endif
    detail::runtime_host& h = *host_;
    if (h.rt == nullptr) {
        out.clean = cancel_on_loop(*h.loop, deadline);
        bool answered = true;
        if (!out.clean) {
            out.task_dump =
                detail::dump_tasks_from_outside(*h.loop, std::chrono::steady_clock::now() + grace);
            answered = !out.task_dump.empty();
        }
        h.stop_requested.store(true, std::memory_order_release);
        h.loop->call_soon_threadsafe([] { event_loop::current()->stop(); });
        bool exited;
        {
            std::unique_lock lock(h.exit_mutex);
            // A loop that did not answer the dump is blocked: barely wait.
            auto until =
                std::max(deadline, std::chrono::steady_clock::now()) +
                (answered ? std::chrono::milliseconds(grace) : std::chrono::milliseconds(2));
            exited = h.exit_cv.wait_until(lock, until, [&] { return h.thread_exited; });
        }
        if (exited) {
            h.thread.join();
        } else {
            // Blocked in a step: it keeps the state (its own reference to
            // the host) and frees it if it ever gets out.
            h.thread.detach();
            out.threads_abandoned = true;
        }
    } else {
        detail::runtime_core& rt = *h.rt;
        out.clean = rt.cancel_pending(deadline);
        if (!out.clean)
            out.task_dump = detail::dump_tasks_from_outside(
                rt.main_loop(), std::chrono::steady_clock::now() + grace);
        auto until = std::max(deadline, std::chrono::steady_clock::now()) + grace;
        bool stopped = rt.stop(until);
        // A thread whose loop the monitor handed off (its step ran past the
        // blocking threshold) may still be finishing that step: give it until
        // the same limit.
        while (stopped && rt.thread_in_step() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (!stopped || rt.thread_in_step()) {
            // A thread is blocked in a step and would make the destructor
            // wait. A reaper thread waits instead, and frees the runtime's
            // state (threads, loops, tasks) once that step returns.
            std::thread([core = std::move(h.rt)]() mutable {
                core->stop(std::chrono::steady_clock::time_point::max());
                while (core->thread_in_step())
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                core->report_leftovers();
                core.reset();
            }).detach();
            out.threads_abandoned = true;
        } else {
            rt.report_leftovers();
            h.rt.reset();  // joins the threads; closes the loops (pending tasks destroyed)
        }
    }
    if (out.threads_abandoned) out.clean = false;
    return out;
}

}  // namespace weft
