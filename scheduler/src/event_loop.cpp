// The event loop: asyncio's _run_once, the remote queue that
// call_soon_threadsafe feeds, the task registry, settings and error
// reporting. A Go-mode worker's scheduling is in go_worker.cpp.
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <weft/detail/frame_allocator.hpp>
#include <weft/detail/go_worker.hpp>
#include <weft/detail/inject_queue.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>
#include <weft/log.hpp>

#include "trace.hpp"

namespace weft {

namespace detail {
// Items queued from other threads (single-thread mode); the loop is the only
// consumer.
struct remote_queue {
    inject_queue items;
};
}  // namespace detail

using detail::callback_base;
using detail::task_record;
using detail::tls_ctx;

namespace {}  // namespace

void handle::cancel() noexcept {
    if (cb_ != nullptr) detail::cancel_callback(cb_);
}

void detail::cancel_callback(callback_base* cb) noexcept {
    // Relaxed: a flag the loop polls; see callback_base::cancelled.
    if (!cb->cancelled.exchange(true, std::memory_order_relaxed)) {
        if (event_loop* loop = cb->timer_loop.load(std::memory_order_relaxed)) {
            loop->note_timer_cancelled();
        }
    }
}

std::int64_t event_loop::time_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

event_loop::event_loop() : event_loop(io_backend::automatic) {}

event_loop::event_loop(io_backend io)
    : poller_(detail::make_poller(io)),
      remote_(std::make_unique<detail::remote_queue>()),
      own_settings_(std::make_unique<detail::loop_settings>()),
      settings_(own_settings_.get()),
      group_(this) {
    init_wakeup();
}

event_loop::event_loop(detail::worker_key, detail::runtime_core* rt, unsigned index,
                       detail::loop_settings* shared, io_backend io)
    : poller_(detail::make_poller(io)),
      settings_(shared),
      rt_(rt),
      index_(index),
      group_(rt),
      worker_(std::make_unique<detail::go_worker>(*this, *rt, index)) {
    init_wakeup();
}

event_loop::owner_scope::owner_scope(const event_loop& l) noexcept : ctx_(tls_ctx) {
    // An asyncio-mode loop has no owner but its thread, which has no machine.
    static const std::atomic<detail::machine*> no_owner{nullptr};
    std::atomic_ref<int> ops(ctx_.owner_ops);
    owned_ = detail::enter_owner_operation<detail::std_sync>(
        ops, l.worker_ ? l.worker_->owner : no_owner, ctx_.machine);
}

event_loop::owner_scope::~owner_scope() {
    std::atomic_ref<int> ops(ctx_.owner_ops);
    detail::leave_owner_operation<detail::std_sync>(ops);
}

void event_loop::init_wakeup() {
    if (detail::trace::enabled()) settings_->instrumented.store(true, std::memory_order_relaxed);
    wakeup_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakeup_fd_ < 0) throw std::system_error(errno, std::generic_category(), "weft: eventfd");
    wakeup_target_.on_events = &on_wakeup_fd;
    wakeup_target_.loop = this;
    poller_->add(wakeup_fd_, detail::readiness::readable, &wakeup_target_);
}

event_loop::~event_loop() {
    if (running_) {
        weft::log(weft::log_level::critical, "weft: an event loop was destroyed while running");
        std::terminate();
    }
    wait_remote_pushes();  // a thread that woke one of our tasks may still be here
    if (!closed_) close();
    poller_->remove(wakeup_fd_);
    ::close(wakeup_fd_);
    if (host_timer_fd_ >= 0) {
        poller_->remove(host_timer_fd_);
        ::close(host_timer_fd_);
    }
}

void event_loop::check_open(const char* what) const {
    if (closed_) throw std::logic_error(std::string("weft: ") + what + " on a closed event loop");
}

event_loop& event_loop::here_slow(const char* what) {
    check_open(what);
    event_loop* cur = tls_ctx.loop;
    if (cur == this) return *this;
    // Go mode: every worker of the runtime is as good as another.
    if (cur != nullptr && rt_ != nullptr && cur->group_ == group_) return *cur;
    // Setting up before anything runs (e.g. create_task before run).
    if (cur == nullptr && !running_ && (rt_ == nullptr || !rt_->started())) return *this;
    throw std::logic_error(std::string("weft: ") + what +
                           " called from a thread that is not running this event loop; "
                           "use call_soon_threadsafe");
}

void event_loop::schedule(event_loop* home, std::uintptr_t item, bool wake) {
    event_loop* cur = tls_ctx.loop;
    if (home == nullptr) home = cur;
    if (WEFT_LIKELY(cur != nullptr && cur->group_ == home->group_)) {
        if (wake) {
            cur->push_wake(item);
        } else {
            cur->push_ready(item);
        }
    } else {
        home->push_remote(item);
    }
}

void event_loop::push_remote(std::uintptr_t item) {
    // Counted for the destructors (remote_pushes_). relaxed: whoever destroys
    // the loop learnt of the item through the queue, after this increment.
    remote_pushes_.fetch_add(1, std::memory_order_relaxed);
    struct done_pushing {
        std::atomic<int>& n;
        // release: pairs with wait_remote_pushes' acquire, so this thread's
        // last reads of the loop come before it is freed.
        ~done_pushing() { n.fetch_sub(1, std::memory_order_release); }
    } counted{remote_pushes_};
    if (rt_ != nullptr) return rt_->inject(item);
    remote_->items.push(item);
    // release: pairs with drain_remote's exchange, so the item is there
    // for the dequeue that follows it.
    remote_dirty_.store(true, std::memory_order_release);
    // Wake-up protocol, a store-buffering handshake with run_once: we store
    // the item (and the flag) then load `sleeping_`; the loop stores
    // `sleeping_` then looks at the flag. The seq_cst fences guarantee that
    // at least one side sees the other, so an item is never left behind a
    // sleeping loop.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_relaxed) &&
        sleeping_.exchange(false, std::memory_order_relaxed)) {
        wake_thread();  // only the first pusher to find the loop asleep pays the syscall
    }
}

void event_loop::wait_remote_pushes() const noexcept {
    // A pusher holds no lock and is a few hundred instructions from done.
    // acquire: pairs with the release in push_remote's decrement.
    while (remote_pushes_.load(std::memory_order_acquire) != 0)
        std::this_thread::yield();
}

void event_loop::wake_thread() noexcept {
    std::uint64_t one = 1;
    ssize_t r = ::write(wakeup_fd_, &one, sizeof one);
    (void)r;  // EAGAIN means the counter is already non-zero: it will wake
}

void event_loop::on_wakeup_fd(detail::poll_target* self, std::uint32_t) noexcept {
    event_loop* loop = static_cast<wakeup_target*>(self)->loop;
    std::uint64_t n;
    while (::read(loop->wakeup_fd_, &n, sizeof n) > 0) {
    }
}

void event_loop::drain_remote() {
    if (!remote_ || !remote_dirty_.load(std::memory_order_relaxed)) return;
    // acquire: pairs with push_remote's release store; an item pushed after
    // this exchange sets the flag again and is taken next time.
    remote_dirty_.exchange(false, std::memory_order_acquire);
    std::uintptr_t items[detail::shared_queue_batch];
    std::size_t n;
    while ((n = remote_->items.pop_batch(items, detail::shared_queue_batch)) != 0) {
        remote_active_ = true;
        for (std::size_t i = 0; i < n; ++i)
            ready_.push_back(items[i]);
    }
}

// Before a loop that other threads feed goes to sleep: a thread that waits
// for the result of what it submitted usually submits again within a few
// microseconds, and a sleep and wake-up through the eventfd cost some 10 us
// each on a virtual machine. So look at the remote queue, and at I/O, for up
// to remote_spin_ns (bounded by the next timer), while `sleeping_` is still
// false and pushers pay no syscall. A spin that finds nothing ends the
// streak: the loop spins again only after remote work woke it. True if work
// came in.
bool event_loop::spin_for_remote(std::int64_t timeout_ns) {
    constexpr std::int64_t remote_spin_ns = 50'000;
    std::int64_t now = time_ns();
    std::int64_t until =
        now + (timeout_ns >= 0 && timeout_ns < remote_spin_ns ? timeout_ns : remote_spin_ns);
    for (unsigned i = 1;; ++i) {
        if (remote_dirty_.load(std::memory_order_relaxed)) return true;
        __builtin_ia32_pause();
        if (i % 64 == 0) {
            if (poller_->registered() > 1 && poller_->wait(0) > 0) return true;
            if (time_ns() >= until) break;
        }
    }
    remote_active_ = false;
    return false;
}

void event_loop::add_timer(callback_base* cb, std::int64_t when_ns) {
    if (worker_) {
        detail::owner_guard owner(*worker_);
        if (WEFT_UNLIKELY(!owner.owned())) return add_timer_remote(cb, when_ns);
        cb->when = when_ns;
        cb->timer_loop.store(this, std::memory_order_relaxed);
        timers_.push(cb, when_ns);
        return;
    }
    cb->when = when_ns;
    cb->timer_loop.store(this, std::memory_order_relaxed);
    timers_.push(cb, when_ns);
    if (WEFT_UNLIKELY(between_steps_)) note_outside_work();  // the host re-arms at the step
}

namespace {
// Carries a timer to whichever worker runs it, which adds it to its heap.
// Owns one reference to the timer until then.
struct timer_adder {
    callback_base* cb;
    std::int64_t when;
    timer_adder(callback_base* c, std::int64_t w) noexcept : cb(c), when(w) {}
    timer_adder(timer_adder&& o) noexcept : cb(std::exchange(o.cb, nullptr)), when(o.when) {}
    timer_adder(const timer_adder&) = delete;
    ~timer_adder() {
        if (cb) cb->release();  // dropped unrun (the runtime closed)
    }
    void operator()() { event_loop::current()->add_timer(std::exchange(cb, nullptr), when); }
};
}  // namespace

void event_loop::add_timer_remote(callback_base* cb, std::int64_t when_ns) {
    // Called on a thread that lost this loop while blocked in a step: the
    // timer goes to whichever worker takes the adder from the global queue.
    push_remote(tag_callback(detail::make_callback(timer_adder(cb, when_ns))));
}

void event_loop::drop_cancelled_timers() {
    if (timers_.empty()) return;
    // asyncio's rule (base_events: _MIN_SCHEDULED_TIMER_HANDLES and
    // _MIN_CANCELLED_TIMER_HANDLES_FRACTION): rebuild the heap once more than
    // 100 timers and more than half of all timers are cancelled.
    constexpr std::size_t purge_above = 100;
    std::size_t ncancelled = cancelled_timers_.load(std::memory_order_relaxed);
    if (ncancelled > purge_above && ncancelled * 2 > timers_.size()) {
        timers_.purge_cancelled();
        cancelled_timers_.store(0, std::memory_order_relaxed);
        return;
    }
    while (!timers_.empty() && timers_.top().cb->cancelled.load(std::memory_order_relaxed)) {
        callback_base* cb = timers_.pop().cb;
        cb->timer_loop.store(nullptr, std::memory_order_relaxed);
        cb->release();
        if (ncancelled > 0) cancelled_timers_.store(--ncancelled, std::memory_order_relaxed);
    }
}

std::int64_t event_loop::next_timer_timeout() const {
    if (timers_.empty()) return -1;
    std::int64_t wait = timers_.top().when - time_ns();
    return wait > 0 ? wait : 0;
}

std::size_t event_loop::collect_due_timers() {
    if (timers_.empty()) return 0;
    std::size_t n = 0;
    std::int64_t now = time_ns();
    while (!timers_.empty() && timers_.top().when <= now) {
        callback_base* cb = timers_.pop().cb;
        // No longer in the heap: a late cancel() need not count it.
        cb->timer_loop.store(nullptr, std::memory_order_relaxed);
        if (cb->cancelled.load(std::memory_order_relaxed)) {
            cb->release();
            std::size_t c = cancelled_timers_.load(std::memory_order_relaxed);
            if (c > 0) cancelled_timers_.store(c - 1, std::memory_order_relaxed);
            continue;
        }
        push_ready(tag_callback(cb));
        ++n;
    }
    return n;
}

void event_loop::run_forever() {
    run_loop([] { return false; });
}

void event_loop::run_until(const std::function<bool()>& done) {
    run_loop([&done] { return done(); });
}

class event_loop::running_scope {
public:
    // `what` names the call in the closed-loop error; `already` and
    // `nested` are the errors for a loop already running and for another
    // loop running on this thread.
    running_scope(event_loop& loop, const char* what, const char* already, const char* nested)
        : loop_(loop) {
        loop.check_open(what);
        if (loop.rt_ != nullptr) {
            throw std::logic_error("weft: a Go-mode worker is run by its runtime");
        }
        if (loop.running_) throw std::logic_error(already);
        if (tls_ctx.loop != nullptr) throw std::logic_error(nested);
        loop.running_ = true;
        loop.between_steps_ = false;
        tls_ctx.loop = &loop;
    }
    ~running_scope() {
        loop_.running_ = false;
        loop_.stopping_ = false;
        tls_ctx.loop = nullptr;
        if (loop_.host_timer_fd_ >= 0) loop_.host_idle();
    }
    running_scope(const running_scope&) = delete;
    running_scope& operator=(const running_scope&) = delete;

private:
    event_loop& loop_;
};

template <class Done>
void event_loop::run_loop(Done done) {
    running_scope running(*this, "run_forever", "weft: this event loop is already running",
                          "weft: cannot run an event loop while another loop is running");
    while (!done()) {
        run_once();
        if (stopping_) break;
    }
}

void event_loop::run_once() {
    run_once_impl(true);
}

// ---- driven by a host loop

int event_loop::pollable_fd() {
    check_open("pollable_fd");
    if (rt_ != nullptr) {
        throw std::logic_error("weft: pollable_fd: a Go-mode worker is driven by its runtime");
    }
    if (host_timer_fd_ < 0) {
        // The timers live in a heap, not in the kernel: a timerfd armed for
        // the earliest makes the epoll fd readable when it is due.
        host_timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (host_timer_fd_ < 0) {
            throw std::system_error(errno, std::generic_category(), "weft: timerfd_create");
        }
        host_timer_target_.on_events = &on_host_timer;
        host_timer_target_.loop = this;
        try {
            poller_->add(host_timer_fd_, detail::readiness::readable, &host_timer_target_);
        } catch (...) {
            ::close(std::exchange(host_timer_fd_, -1));
            throw;
        }
        // Work queued before the host started watching must show too.
        if (!running_) host_idle();
    }
    return poller_->fd();
}

void event_loop::on_host_timer(detail::poll_target* self, std::uint32_t) noexcept {
    event_loop* loop = static_cast<wakeup_target*>(self)->loop;
    std::uint64_t n;
    while (::read(loop->host_timer_fd_, &n, sizeof n) > 0) {
    }
}

void event_loop::arm_host_timer() noexcept {
    itimerspec spec{};  // zero: disarmed
    if (!timers_.empty()) {
        std::int64_t when = timers_.top().when;
        if (when <= 0) when = 1;  // zero would disarm
        spec.it_value.tv_sec = static_cast<time_t>(when / 1'000'000'000);
        spec.it_value.tv_nsec = static_cast<long>(when % 1'000'000'000);
    }
    // Cannot fail with a valid fd and value; the host's timeout
    // (next_timeout_ns) covers the timers in any case.
    ::timerfd_settime(host_timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void event_loop::note_outside_work() noexcept {
    wake_thread();  // level-triggered: the epoll fd stays readable until the step
}

std::int64_t event_loop::next_timeout_ns() const {
    if (!ready_.empty() || remote_dirty_.load(std::memory_order_relaxed)) return 0;
    return next_timer_timeout();
}

// Back in the host's hands: pollable_fd() must say whether there is work.
void event_loop::host_idle() noexcept {
    between_steps_ = true;
    // Work left for the next step (what this one scheduled, or what another
    // thread queued) keeps the eventfd readable. For later work, the
    // store-load handshake of push_remote: `sleeping_` stays set until the
    // next step, so a call_soon_threadsafe writes the eventfd.
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!ready_.empty() || remote_dirty_.load(std::memory_order_relaxed)) wake_thread();
    arm_host_timer();
}

void event_loop::step() {
    running_scope running(*this, "step", "weft: step: this event loop is already running",
                          "weft: cannot step an event loop while another loop is running");
    run_once_impl(false);
}

// One iteration, as asyncio's BaseEventLoop._run_once; without `may_wait`
// the poll only looks (a host's loop does the waiting).
void event_loop::run_once_impl(bool may_wait) {
    // 0. A watched counter (SIGINT) that moved: let the runner act.
    if (WEFT_UNLIKELY(watch_ != nullptr)) {
        int now = watch_->load(std::memory_order_relaxed);
        if (now != watch_seen_) {
            watch_seen_ = now;
            on_watch_(now);
        }
    }

    // 1. Cancelled timers: rebuild the heap when they are the majority, else
    //    drop those at the front.
    drop_cancelled_timers();

    // 2. Poll for I/O; wait only when nothing is ready.
    std::int64_t timeout = (!ready_.empty() || stopping_ || !may_wait) ? 0 : next_timer_timeout();
    if (timeout != 0 && remote_active_ && spin_for_remote(timeout)) timeout = 0;
    if (timeout != 0) {
        // Going idle: the frame pool may hand in or trim memory, and may
        // shorten the wait to come back when that is due.
        timeout = detail::pool_idle(timeout);
        // Likewise a ready queue that a burst grew (8 MB for a million tasks).
        ready_.shrink_if_empty(detail::ready_shrink_above);
        // Announce the sleep, then look at the remote queue (see push_remote).
        sleeping_.store(true, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (remote_dirty_.load(std::memory_order_relaxed)) timeout = 0;
    }
    // With only our own wake-up fd registered there is no I/O to look at
    // unless we are going to wait: skip the syscall.
    if (timeout != 0 || poller_->registered() > 1) poller_->wait(timeout);
    sleeping_.store(false, std::memory_order_relaxed);
    drain_remote();

    // 3. Timers that are due become ready, in deadline order.
    if (!timers_.empty()) collect_due_timers();

    // 4. Run what was ready when this step began; later arrivals wait for the
    //    next iteration. A queue that a burst left mostly empty gives its
    //    memory back first, busy or not.
    ready_.shrink_if_sparse(detail::ready_shrink_above);
    for (std::size_t ntodo = ready_.size(); ntodo > 0; --ntodo)
        run_item(ready_.pop_front());
}

void event_loop::run_item(std::uintptr_t item) {
    if (WEFT_UNLIKELY(settings_->instrumented.load(std::memory_order_relaxed))) {
        return run_item_timed(item);
    }
    if (item & 1) {
        run_callback(reinterpret_cast<callback_base*>(item & ~std::uintptr_t{1}));
    } else {
        reinterpret_cast<task_record*>(item)->run_step();
    }
}

void event_loop::run_callback(callback_base* cb) {
    if (!cb->cancelled.load(std::memory_order_relaxed)) {
        try {
            cb->invoke(cb);
        } catch (...) {
            call_exception_handler(
                exception_context{"Exception in callback", std::current_exception(), {}});
        }
    }
    cb->release();
}

// Debug mode or tracing: as run_item, reporting items slower than
// slow_callback_duration, recording a trace slice.
void event_loop::run_item_timed(std::uintptr_t item) {
    bool is_task = !(item & 1);
    auto* t = reinterpret_cast<task_record*>(item);
    if (is_task) t->add_ref();  // keep it nameable after its step
    std::int64_t t0 = time_ns();
    if (item & 1) {
        run_callback(reinterpret_cast<callback_base*>(item & ~std::uintptr_t{1}));
    } else {
        t->run_step();
    }
    std::int64_t t1 = time_ns();
    if (detail::trace::enabled())
        detail::trace::slice(t0, t1, is_task ? t->name() : std::string("callback"), index_);
    double dt = static_cast<double>(t1 - t0) * 1e-9;
    if (get_debug() && dt >= slow_callback_duration()) report_slow(is_task ? t : nullptr, dt);
    if (is_task) t->release();
}

void event_loop::report_slow(task_record* t, double seconds) {
    char took[64];
    std::snprintf(took, sizeof took, " took %.3f seconds", seconds);
    exception_context ctx;
    if (t == nullptr) {
        ctx.message = std::string("Executing <Handle>") + took;
    } else {
        ctx.task_name = t->name();
        ctx.message = "Executing <Task name='" + ctx.task_name + "'>" + took;
    }
    call_exception_handler(ctx);
}

// ---- the task registry

void event_loop::register_task(task_record* t) noexcept {
    if (worker_) {
        detail::owner_guard owner(*worker_);
        if (WEFT_LIKELY(owner.owned())) return link_locally(t);
        // Not driving this loop (it was handed off while we were blocked):
        // the driver links it later. release: pairs with the exchange there.
        task_record* head = worker_->link_stack.load(std::memory_order_relaxed);
        do {
            t->reg_next = head;
        } while (!worker_->link_stack.compare_exchange_weak(head, t, std::memory_order_release,
                                                            std::memory_order_relaxed));
        return;
    }
    link_locally(t);
}

void event_loop::link_locally(task_record* t) noexcept {
    t->reg_prev = nullptr;
    t->reg_next = tasks_head_;
    if (tasks_head_) tasks_head_->reg_prev = t;
    tasks_head_ = t;
    ++task_count_;
    if (worker_) worker_->live.store(task_count_, std::memory_order_relaxed);
}

bool event_loop::unregister_task(task_record* t) noexcept {
    if (worker_ != nullptr) {
        if (tls_ctx.loop == this) {
            detail::owner_guard owner(*worker_);
            if (owner.owned()) {
                // `t` may have been created by a thread that had lost this
                // loop and still wait in link_stack: link those first, or
                // `t` would be freed while still on that stack.
                if (WEFT_UNLIKELY(worker_->link_stack.load(std::memory_order_relaxed) != nullptr))
                    worker_->drain_links();
                unlink_locally(t);
                return true;
            }
        }
        // Finished on another worker (or on a thread that no longer drives
        // this loop): only the driver touches its list. Hand the task over
        // through a lock-free stack; drain_unlinks takes it. release: the
        // task's final state is visible to the drainer's acquire exchange.
        task_record* head = worker_->unlink_stack.load(std::memory_order_relaxed);
        do {
            t->set_unlink_next(head);
        } while (!worker_->unlink_stack.compare_exchange_weak(head, t, std::memory_order_release,
                                                              std::memory_order_relaxed));
        return false;
    }
    unlink_locally(t);
    return true;
}

void event_loop::unlink_locally(task_record* t) noexcept {
    if (t->reg_prev) {
        t->reg_prev->reg_next = t->reg_next;
    } else if (tasks_head_ == t) {
        tasks_head_ = t->reg_next;
    } else {
        return;  // not registered (already removed by close())
    }
    if (t->reg_next) t->reg_next->reg_prev = t->reg_prev;
    t->reg_prev = t->reg_next = nullptr;
    --task_count_;
    if (worker_) worker_->live.store(task_count_, std::memory_order_relaxed);
}

std::vector<task_record*> event_loop::live_tasks() const {
    std::vector<task_record*> out;
    out.reserve(task_count_);
    // The registry is newest-first; asyncio's all_tasks has no order, but
    // creation order reads better.
    for (task_record* t = tasks_head_; t; t = t->reg_next)
        out.push_back(t);
    return {out.rbegin(), out.rend()};
}

void event_loop::close() {
    if (running_) throw std::logic_error("weft: cannot close a running event loop");
    if (closed_) return;
    closed_ = true;
    event_loop* outer = tls_ctx.loop;
    tls_ctx.loop = this;  // diagnostics and wake-ups during teardown come here
    // A single-thread loop shuts its components down first (Go mode's
    // runtime does it for all its workers, in ~runtime_core).
    if (own_settings_) detail::run_shutdown_callbacks(*own_settings_);
    if (worker_) {
        worker_->owner.store(static_cast<detail::machine*>(tls_ctx.machine),
                             std::memory_order_relaxed);
        worker_->drain_unlinks();
    }
    // Tasks still pending are abandoned: reported, then completed as
    // cancelled so that anything awaiting them is released, and their frames
    // destroyed once no handle holds them.
    while (tasks_head_ != nullptr) {
        task_record* t = tasks_head_;
        unregister_task(t);
        std::string name;
        try {
            name = t->name();
        } catch (...) {
        }
        call_exception_handler(
            exception_context{"Task was destroyed but it is pending!", {}, name});
        // A task's own completion takes no claim: done() says whether it ran out.
        if (!t->done() && t->try_claim()) t->publish(detail::f_cancelled);
        t->release();
    }
    auto drop = [](std::uintptr_t item) {
        if (item & 1) reinterpret_cast<callback_base*>(item & ~std::uintptr_t{1})->release();
    };
    drain_remote();
    while (!ready_.empty())
        drop(ready_.pop_front());
    if (worker_) worker_->drop_queued(drop);
    timers_.clear();
    tls_ctx.loop = outer;
}

// ---- settings and error reporting

void event_loop::set_debug(bool on) noexcept {
    settings_->debug.store(on, std::memory_order_relaxed);
    settings_->instrumented.store(on || detail::trace::enabled(), std::memory_order_relaxed);
}
bool event_loop::get_debug() const noexcept {
    return settings_->debug.load(std::memory_order_relaxed);
}
void event_loop::set_slow_callback_duration(double seconds) noexcept {
    settings_->slow_s.store(seconds, std::memory_order_relaxed);
}
double event_loop::slow_callback_duration() const noexcept {
    return settings_->slow_s.load(std::memory_order_relaxed);
}
void event_loop::set_exception_handler(exception_handler h) {
    std::lock_guard lock(settings_->mutex);
    settings_->handler = std::move(h);
}

void event_loop::call_exception_handler(const exception_context& ctx) noexcept {
    try {
        exception_handler h;
        {
            std::lock_guard lock(settings_->mutex);
            h = settings_->handler;
        }
        if (h) {
            h(*this, ctx);
            return;
        }
    } catch (...) {
        // asyncio logs an error raised by the handler and goes on; so do we.
        exception_context inner{
            "Unhandled error in exception handler", std::current_exception(), {}};
        default_exception_handler(inner);
    }
    default_exception_handler(ctx);
}

void event_loop::default_exception_handler(const exception_context& ctx) noexcept {
    try {
        std::string text = "weft: " + ctx.message;
        if (!ctx.task_name.empty()) text += "\n  task: " + ctx.task_name;
        if (ctx.exception) text += "\n  exception: " + describe(ctx.exception);
        weft::log(weft::log_level::error, text);
    } catch (...) {
        weft::log(weft::log_level::error, "weft: (failed to format an error report)");
    }
}

void event_loop::add_shutdown_callback(std::function<void()> fn) {
    std::lock_guard lock(settings_->mutex);
    settings_->shutdown_callbacks.push_back(std::move(fn));
}

void detail::run_shutdown_callbacks(loop_settings& s) noexcept {
    for (;;) {
        std::vector<std::function<void()>> todo;
        {
            std::lock_guard lock(s.mutex);
            todo.swap(s.shutdown_callbacks);
        }
        if (todo.empty()) return;
        for (auto& fn : todo) {
            try {
                fn();
            } catch (...) {
                event_loop::default_exception_handler(exception_context{
                    "Exception in a shutdown callback", std::current_exception(), {}});
            }
        }
    }
}

event_loop& get_running_loop() {
    event_loop* loop = tls_ctx.loop;
    if (loop == nullptr) throw no_running_loop_error();
    return *loop;
}

namespace detail {

void timer_heap::purge_cancelled() {
    std::size_t out = 0;
    for (entry& e : heap_) {
        if (e.cb->cancelled.load(std::memory_order_relaxed)) {
            e.cb->timer_loop.store(nullptr, std::memory_order_relaxed);
            e.cb->release();
        } else {
            heap_[out++] = e;
        }
    }
    heap_.resize(out);
    // Floyd's bottom-up heapify; relative order of equal deadlines is kept by seq.
    if (heap_.size() > 1) {
        for (std::size_t i = (heap_.size() - 2) / 4 + 1; i-- > 0;)
            sift_down(i);
    }
}

void timer_heap::clear() noexcept {
    for (entry& e : heap_) {
        e.cb->timer_loop.store(nullptr, std::memory_order_relaxed);  // the loop is going away
        e.cb->release();
    }
    heap_.clear();
}

}  // namespace detail

}  // namespace weft
