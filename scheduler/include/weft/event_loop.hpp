// weft::event_loop: asyncio's event loop.
//
// One loop runs on one thread. Each iteration does what asyncio's _run_once
// does, in this order (see event_loop::run_once, one function top to bottom):
//
//   1. drop cancelled timers from the front of the timer heap;
//   2. poll for I/O, waiting only if nothing is ready: until the next timer,
//      or indefinitely when there is none (another thread's call_soon_threadsafe
//      wakes the wait through an eventfd);
//   3. move every timer that is due to the ready queue;
//   4. run exactly the callbacks and task steps that were ready when step 4
//      began; what they schedule runs in the next iteration.
//
// Tasks, futures, sleep and the combinators all schedule through this queue
// the way asyncio does, which is what makes a program's trace the same as its
// Python twin's (tests/conformance pins that down).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <weft/detail/callback.hpp>
#include <weft/detail/poller.hpp>
#include <weft/detail/ring_queue.hpp>
#include <weft/detail/thread_context.hpp>
#include <weft/detail/timer_heap.hpp>

namespace weft {

namespace detail {
class task_record;
struct remote_queue;
}  // namespace detail

template <class T>
class task;
template <class T>
class task_handle;

// asyncio.Handle: a scheduled callback that can be cancelled before it runs.
class handle {
  public:
    handle() noexcept = default;
    explicit handle(detail::callback_base* cb) noexcept : cb_(cb) {}  // adopts a reference
    handle(const handle& o) noexcept : cb_(o.cb_) {
        if (cb_) cb_->add_ref();
    }
    handle(handle&& o) noexcept : cb_(std::exchange(o.cb_, nullptr)) {}
    handle& operator=(handle o) noexcept {
        std::swap(cb_, o.cb_);
        return *this;
    }
    ~handle() {
        if (cb_) cb_->release();
    }

    // Stops the callback from running if it has not run yet.
    void cancel() noexcept;
    bool cancelled() const noexcept {
        return cb_ && cb_->cancelled.load(std::memory_order_relaxed);
    }
    explicit operator bool() const noexcept { return cb_ != nullptr; }

  protected:
    detail::callback_base* cb_ = nullptr;
};

// asyncio.TimerHandle: adds the deadline, in the loop's time() seconds.
class timer_handle : public handle {
  public:
    using handle::handle;
    double when() const noexcept { return cb_ ? static_cast<double>(cb_->when) * 1e-9 : 0.0; }
};

// What an exception handler is told (asyncio's context dict).
struct exception_context {
    std::string message;           // e.g. "Task exception was never retrieved"
    std::exception_ptr exception;  // may be null
    std::string task_name;         // the task concerned, if any
};

class event_loop;
using exception_handler = std::function<void(event_loop&, const exception_context&)>;

class event_loop {
  public:
    event_loop();
    ~event_loop();
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    // ---- time: a monotonic clock, in seconds (time) or nanoseconds (time_ns)
    double time() const noexcept { return static_cast<double>(time_ns()) * 1e-9; }
    static std::int64_t time_ns() noexcept;

    // ---- callbacks. `f` is any callable taking no arguments (bind arguments
    // with a lambda). Exceptions escaping it go to the exception handler.
    template <class F>
    handle call_soon(F&& f) {
        check_open("call_soon");
        auto* cb = detail::make_callback(std::forward<F>(f), 2);
        ready_.push_back(tag_callback(cb));
        return handle(cb);
    }
    // The only method that may be called from another thread: queues `f` and
    // wakes the loop if it is waiting.
    template <class F>
    handle call_soon_threadsafe(F&& f) {
        auto* cb = detail::make_callback(std::forward<F>(f), 2);
        push_remote(tag_callback(cb));
        return handle(cb);
    }
    // Negative delays count as zero, as in asyncio.
    template <class F>
    timer_handle call_later(double delay_seconds, F&& f) {
        return call_at_ns(time_ns() + seconds_to_ns(delay_seconds), std::forward<F>(f));
    }
    template <class Rep, class Period, class F>
    timer_handle call_later(std::chrono::duration<Rep, Period> delay, F&& f) {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count();
        return call_at_ns(time_ns() + (ns > 0 ? ns : 0), std::forward<F>(f));
    }
    // `when` is in time() seconds.
    template <class F>
    timer_handle call_at(double when, F&& f) {
        return call_at_ns(static_cast<std::int64_t>(when * 1e9), std::forward<F>(f));
    }

    // ---- tasks (defined in task_handle.hpp)
    // Schedules `t` on this loop; it starts at the next iteration.
    template <class T>
    task_handle<T> create_task(task<T> t, std::string name = {});
    // Runs the loop until the task completes; returns its result or rethrows.
    template <class T>
    T run_until_complete(task<T> t);
    template <class T>
    T run_until_complete(task_handle<T> h);

    // ---- running
    // Runs until stop() is called.
    void run_forever();
    // Runs iterations until `done()` is true (checked before each) or stop().
    void run_until(const std::function<bool()>& done);
    // Runs one iteration of the loop (asyncio's _run_once).
    void run_once();
    // Stops run_forever() after the current iteration.
    void stop() noexcept { stopping_ = true; }
    bool is_running() const noexcept { return running_; }
    bool is_closed() const noexcept { return closed_; }
    // Releases everything the loop holds. A task still pending is destroyed
    // and reported ("Task was destroyed but it is pending!"). Raises if running.
    void close();

    // ---- debug mode and error reporting
    void set_debug(bool on) noexcept { debug_ = on; }
    bool get_debug() const noexcept { return debug_; }
    // In debug mode a callback or task step slower than this is reported.
    void set_slow_callback_duration(double seconds) noexcept { slow_callback_s_ = seconds; }
    double slow_callback_duration() const noexcept { return slow_callback_s_; }
    void set_exception_handler(exception_handler h) { handler_ = std::move(h); }
    // Runs the handler (or the default one) on `ctx`; never throws.
    void call_exception_handler(const exception_context& ctx) noexcept;
    // Writes the context to stderr.
    static void default_exception_handler(const exception_context& ctx) noexcept;

    // ---- for the runtime's own components (tasks, futures, I/O, executors)
    static std::uintptr_t tag_task(detail::task_record* t) noexcept {
        return reinterpret_cast<std::uintptr_t>(t);
    }
    static std::uintptr_t tag_callback(detail::callback_base* cb) noexcept {
        return reinterpret_cast<std::uintptr_t>(cb) | 1u;
    }
    // Queues a ready item. On this loop's thread only.
    void push_ready(std::uintptr_t item) { ready_.push_back(item); }
    // Queues a ready item from any thread and wakes the loop if it waits.
    void push_remote(std::uintptr_t item);
    // Adds a timer (the heap takes the caller's reference to `cb`).
    void add_timer(detail::callback_base* cb, std::int64_t when_ns);
    // Counts a cancelled timer, for compaction.
    void note_timer_cancelled() noexcept {
        cancelled_timers_.fetch_add(1, std::memory_order_relaxed);
    }
    detail::poller& poller() noexcept { return poller_; }
    // The registry of live tasks (all_tasks()).
    void register_task(detail::task_record* t) noexcept;
    void unregister_task(detail::task_record* t) noexcept;
    std::vector<detail::task_record*> live_tasks() const;
    std::size_t ready_count() const noexcept { return ready_.size(); }

    // The loop running on this thread, or null.
    static event_loop* current() noexcept { return detail::tls_ctx.loop; }

  private:
    static std::int64_t seconds_to_ns(double s) noexcept {
        return s > 0 ? static_cast<std::int64_t>(s * 1e9) : 0;
    }
    template <class F>
    timer_handle call_at_ns(std::int64_t when_ns, F&& f) {
        check_open("call_later");
        auto* cb = detail::make_callback(std::forward<F>(f), 2);
        add_timer(cb, when_ns);
        return timer_handle(cb);
    }
    void check_open(const char* what) const;
    void run_item(std::uintptr_t item);
    void run_item_timed(std::uintptr_t item);
    void drain_remote();
    void report_slow(detail::task_record* t, double seconds);
    static void on_wakeup_fd(detail::poll_target* self, std::uint32_t events) noexcept;

    detail::ring_queue<std::uintptr_t> ready_;
    detail::timer_heap timers_;
    std::atomic<std::size_t> cancelled_timers_{0};
    detail::poller poller_;
    std::unique_ptr<detail::remote_queue> remote_;
    // Wake-up protocol with push_remote (see there): true while the loop is
    // about to wait or waiting in the poller with a non-zero timeout.
    std::atomic<bool> sleeping_{false};
    int wakeup_fd_ = -1;
    struct wakeup_target : detail::poll_target {
        event_loop* loop = nullptr;
    } wakeup_target_;

    detail::task_record* tasks_head_ = nullptr;  // registry of live tasks
    std::size_t task_count_ = 0;

    exception_handler handler_;
    double slow_callback_s_ = 0.1;
    bool debug_ = false;
    bool stopping_ = false;
    bool running_ = false;
    bool closed_ = false;
};

// The loop running on this thread; throws no_running_loop_error if none
// (asyncio.get_running_loop).
event_loop& get_running_loop();

}  // namespace weft
