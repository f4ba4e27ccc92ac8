// process_pool_executor: a queue of calls, worker processes from the fork
// server, and their sockets read on event loops' pollers.
//
// Who touches what. Everything below is guarded by the pool's mutex, except
// a worker socket's registration with a poller, which only its owner does:
//   - A worker is started by a thread that runs an event loop (submit needs
//     one), and its socket is added to that loop's poller for the worker's
//     whole life: that loop (its "owner") reads every reply, whichever loop
//     submitted the call. Sending a call is a plain write, from any thread.
//   - The owner removes the socket from its poller and closes it, once the
//     worker is gone; or the loop's shutdown callback does, when the loop
//     shuts down first (no loop of it runs then).
//   - shutdown(wait=true) may read any worker's socket itself (the
//     "pump"): it must not wait on a loop it is blocking, nor on one that
//     is not running. Reads are under the mutex, so whoever comes first
//     takes a reply; the pump never touches a poller it does not own.
// A poller callback only reads bytes; decoding (user codecs) and completing
// futures run as a callback on the loop, then the next queued call goes out.
//
// A worker's end is seen as end of file on its socket: the worker exits (a
// crash, or a kill, ours or not), the kernel closes its end. The fork server
// (its parent) then reaps it and tells us how it ended.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <cxxabi.h>
#include <dlfcn.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/executors/process_pool.hpp>
#include <weft/log.hpp>

#include "fork_server.hpp"
#include "remote.hpp"

namespace weft {

namespace detail {

namespace {

const void* group_key(event_loop& loop) noexcept {
    if (loop.runtime() != nullptr) return static_cast<const void*>(loop.runtime());
    return &loop;
}

// The pool's reference to a call (a reference to its future's state).
void release(remote_call* c) noexcept {
    c->job->core()->release();
}

// A reference to a call taken with add_ref, released when it goes.
struct call_ref {
    remote_call* c;
    explicit call_ref(remote_call* call) noexcept : c(call) {}
    call_ref(call_ref&& o) noexcept : c(std::exchange(o.c, nullptr)) {}
    call_ref(const call_ref&) = delete;
    call_ref& operator=(const call_ref&) = delete;
    ~call_ref() {
        if (c) release(c);
    }
};

}  // namespace

struct worker_slot final : poll_target {
    enum class phase { idle, busy, dying, dead };
    enum class why { none, cancelled, timed_out, loop_closed };

    std::shared_ptr<process_pool_state> pool;  // while its socket is open
    pid_t pid = -1;
    int fd = -1;
    event_loop* owner = nullptr;  // whose poller has `fd`; null: none does
    phase state = phase::idle;
    bool reaped = false;          // the fork server has reaped it
    int senders = 0;              // threads writing a call to `fd` right now
    remote_call* call = nullptr;  // busy (or killed while busy): its call
    why killed = why::none;       // why we killed it, if we did
    timer_handle timer;           // the call's timeout
    std::int64_t deadline_ns = -1;
    // The reply being read.
    std::string in;
    bool have_header = false;
    wire_header header{};
};

// A reply read, or a worker found gone: what is left to do, off the poller.
struct outcome {
    std::shared_ptr<worker_slot> slot;
    remote_call* call = nullptr;  // with the pool's reference, or null
    bool died = false;
    wire_kind kind = wire_kind::value;
    std::string bytes;
    worker_slot::why killed = worker_slot::why::none;
    pid_t pid = -1;
};

struct process_pool_state : std::enable_shared_from_this<process_pool_state> {
    process_pool_state(int workers)
        : max_workers(workers), known_functions(function_count()), server(workers) {}

    // ---- with the lock held
    int live_workers() const {
        int n = 0;
        for (auto& s : slots)
            n += s->state != worker_slot::phase::dead;
        return n;
    }
    bool calls_running() const {
        for (auto& s : slots)
            if (s->call != nullptr) return true;
        // A reply read but not yet decoded (see `unclaimed`) is still running
        // as far as the caller's future can tell.
        return !unclaimed.empty() || finishing > 0;
    }
    void dispatch(std::unique_lock<std::mutex>& lock, bool may_spawn, bool unowned_ok);
    void read_slot(worker_slot& s, std::vector<outcome>& out);
    void close_slot_fd(worker_slot& s);
    void erase_if_clean(worker_slot* s);
    void wait_all(std::unique_lock<std::mutex>& lock);
    void teardown(std::unique_lock<std::mutex>& lock);
    void maybe_teardown(std::unique_lock<std::mutex>& lock) {
        if (shut && !torn_down && queue.empty() && spawning == 0 && !calls_running() && !pumping) {
            teardown(lock);
        }
    }
    void kill_slot(worker_slot& s, worker_slot::why why) {
        s.killed = why;
        s.state = worker_slot::phase::dying;
        if (!torn_down) ::kill(s.pid, SIGKILL);  // not reaped yet: the pid is still ours
    }

    // ---- without the lock
    std::shared_ptr<worker_slot> spawn(event_loop* owner);
    void finish(std::vector<outcome>& done, bool may_spawn);
    // The callback queued by a loop that read replies: finishes whatever
    // nobody claimed yet (shutdown(wait) may have, in the meantime).
    void finish_unclaimed();
    void complete(outcome& o, int status);
    void on_loop_shutdown(const void* key);
    void on_timeout(worker_slot* s, remote_call* c);

    std::mutex m;
    const int max_workers;
    const std::uint32_t known_functions;  // registered when the fork server started
    fork_server server;
    bool shut = false;  // no more submissions
    bool wait_on_destroy = true;
    bool torn_down = false;  // the workers and the fork server are gone
    bool pumping = false;    // shutdown(wait) is reading sockets
    int spawning = 0;
    std::deque<remote_call*> queue;  // waiting for a worker (the pool's references)
    std::vector<std::shared_ptr<worker_slot>> slots;
    std::set<const void*> hooked;  // loop groups with our shutdown callback
    // Replies a loop's poller read, waiting for its callback to decode them
    // and complete the futures; then `finishing` counts those claimed and
    // being finished. shutdown(wait) must not return before both are done
    // (the caller expects every future finished), and may claim the
    // unclaimed ones itself: the callback can sit on the very loop that
    // shutdown is blocking.
    std::vector<outcome> unclaimed;
    int finishing = 0;
    std::condition_variable changed;
};

namespace {

void on_slot_events(poll_target* t, std::uint32_t) noexcept {
    auto* s = static_cast<worker_slot*>(t);
    std::shared_ptr<process_pool_state> p = s->pool;  // only we free the slot, later
    std::vector<outcome> done;
    {
        std::lock_guard lock(p->m);
        p->read_slot(*s, done);
        if (s->state == worker_slot::phase::dead) {
            p->close_slot_fd(*s);  // we own the registration
            p->erase_if_clean(s);  // `s` may be gone from here on
        }
        if (done.empty()) return;
        // Parked for the callback below, or for shutdown(wait) if it comes
        // first (see `unclaimed`). Out of memory here ends the process
        // (noexcept), as below.
        p->unclaimed.insert(p->unclaimed.end(), std::make_move_iterator(done.begin()),
                            std::make_move_iterator(done.end()));
    }
    // Decoding runs user code (codecs) and completes futures: a callback's
    // job, not the poller's.
    try {
        auto* cb = make_callback([p] { p->finish_unclaimed(); });
        event_loop::current()->push_ready(event_loop::tag_callback(cb));
    } catch (...) {
        weft::log(weft::log_level::critical,
                  "weft: process_pool_executor: out of memory reading a worker");
        std::terminate();
    }
}

}  // namespace

std::shared_ptr<worker_slot> process_pool_state::spawn(event_loop* owner) {
    fork_server::child c = server.spawn();
    auto s = std::make_shared<worker_slot>();
    s->pid = c.pid;
    s->fd = c.fd;
    s->on_events = &on_slot_events;
    if (owner != nullptr) {
        s->pool = shared_from_this();
        s->owner = owner;
        try {
            owner->poller().add(c.fd, detail::readiness::readable | detail::readiness::peer_closed,
                                s.get());
        } catch (...) {
            ::close(c.fd);
            ::kill(c.pid, SIGKILL);
            server.reap(c.pid);
            throw;
        }
    }
    return s;
}

void process_pool_state::dispatch(std::unique_lock<std::mutex>& lock, bool may_spawn,
                                  bool unowned_ok) {
    for (;;) {
        while (!queue.empty() && queue.front()->job->phase() != job_base::queued) {
            release(queue.front());  // cancelled while queued: never runs
            queue.pop_front();
        }
        if (queue.empty() || torn_down) return;
        std::shared_ptr<worker_slot> s;
        for (auto& cand : slots) {
            if (cand->state == worker_slot::phase::idle) {
                s = cand;
                break;
            }
        }
        if (!s) {
            event_loop* loop = may_spawn ? event_loop::current() : nullptr;
            if (live_workers() + spawning >= max_workers) return;
            if (loop == nullptr && !unowned_ok) return;
            ++spawning;
            lock.unlock();
            std::exception_ptr err;
            try {
                s = spawn(loop);
            } catch (...) {
                err = std::current_exception();
            }
            lock.lock();
            --spawning;
            if (err) {
                // No worker to be had (fork failing): the first call fails,
                // the others wait for the next chance.
                if (queue.empty()) return;
                remote_call* c = queue.front();
                queue.pop_front();
                lock.unlock();
                c->job->finish_exception(err);
                release(c);
                lock.lock();
                return;
            }
            if (loop != nullptr && hooked.insert(group_key(*loop)).second) {
                std::weak_ptr<process_pool_state> weak = weak_from_this();
                const void* key = group_key(*loop);
                loop->add_shutdown_callback([weak, key] {
                    if (auto p = weak.lock()) p->on_loop_shutdown(key);
                });
            }
            slots.push_back(s);
            continue;
        }
        remote_call* c = queue.front();
        queue.pop_front();
        if (!c->job->start()) {
            release(c);
            continue;
        }
        s->state = worker_slot::phase::busy;
        s->call = c;
        s->killed = worker_slot::why::none;
        c->slot = s.get();
        s->deadline_ns = c->timeout > 0
                             ? event_loop::time_ns() + static_cast<std::int64_t>(c->timeout * 1e9)
                             : -1;
        int fd = s->fd;
        ++s->senders;
        // Our own reference to the call until this iteration ends (under the
        // lock again): the worker may answer, and another thread read the
        // reply and release the slot's reference, before sendmsg returns.
        c->job->core()->add_ref();
        call_ref hold(c);
        lock.unlock();
        // Sent without the lock: the slot is ours while it is busy with `c`.
        bool sent = send_message(
            fd,
            wire_header{wire_kind::call, c->named ? call_named : 0u, c->request.size(),
                        static_cast<std::uint64_t>(c->a), static_cast<std::uint64_t>(c->b)},
            c->request.data());
        timer_handle timer;
        event_loop* here = event_loop::current();
        if (sent && c->timeout > 0 && here != nullptr && !here->is_closed()) {
            c->job->core()->add_ref();  // the timer's reference to the call
            std::weak_ptr<process_pool_state> weak = weak_from_this();
            timer = here->call_later(c->timeout, [weak, slot_ref = s, ref = call_ref(c)] {
                if (auto p = weak.lock()) p->on_timeout(slot_ref.get(), ref.c);
            });
        }
        lock.lock();
        if (--s->senders == 0 && s->state == worker_slot::phase::dead && s->owner == nullptr) {
            close_slot_fd(*s);  // its closing waited for us
            erase_if_clean(s.get());
        }
        if (!sent) {
            // The worker was gone already (killed from outside while idle,
            // or by a cancel just now): the call never reached it. Its end
            // of file will come; the call goes back to the queue's head.
            if (s->call == c) {
                s->call = nullptr;
                c->slot = nullptr;
                if (s->state == worker_slot::phase::busy) s->state = worker_slot::phase::dying;
                if (c->job->unstart()) {
                    queue.push_front(c);
                } else {
                    release(c);
                }
            }
            continue;
        }
        if (s->call == c) {
            s->timer = std::move(timer);
        } else {
            timer.cancel();  // done already
        }
    }
}

void process_pool_state::read_slot(worker_slot& s, std::vector<outcome>& out) {
    while (s.state != worker_slot::phase::dead && s.fd >= 0) {
        std::size_t old = s.in.size();
        s.in.resize(old + wire_chunk);
        ssize_t n = ::recv(s.fd, s.in.data() + old, wire_chunk, MSG_DONTWAIT);
        s.in.resize(old + static_cast<std::size_t>(n > 0 ? n : 0));
        if (n > 0) {
            if (!s.have_header) {
                if (s.in.size() < sizeof(wire_header)) {
                    kill_slot(s, worker_slot::why::none);  // not our worker talking
                    continue;
                }
                std::memcpy(&s.header, s.in.data(), sizeof s.header);
                s.in.erase(0, sizeof s.header);
                s.have_header = true;
            }
            if (s.in.size() < s.header.size) continue;
            outcome o;
            o.call = std::exchange(s.call, nullptr);
            if (o.call != nullptr) o.call->slot = nullptr;
            o.kind = s.header.kind;
            o.bytes = std::move(s.in);
            s.in.clear();
            s.have_header = false;
            s.timer.cancel();
            s.timer = {};
            if (s.state == worker_slot::phase::busy) s.state = worker_slot::phase::idle;
            if (o.call != nullptr) out.push_back(std::move(o));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        // End of file (or a broken socket): the worker is gone.
        outcome o;
        o.died = true;
        o.call = std::exchange(s.call, nullptr);
        if (o.call != nullptr) o.call->slot = nullptr;
        o.killed = s.killed;
        o.pid = s.pid;
        for (auto& sp : slots) {
            if (sp.get() == &s) o.slot = sp;
        }
        s.timer.cancel();
        s.timer = {};
        s.state = worker_slot::phase::dead;
        out.push_back(std::move(o));
        return;
    }
}

void process_pool_state::close_slot_fd(worker_slot& s) {
    if (s.fd < 0) return;
    if (s.owner != nullptr) {
        s.owner->poller().remove(s.fd);
        s.owner = nullptr;
    }
    // A thread still writing to it closes it when done: closed now, the
    // number could go to another file before that write.
    if (s.senders > 0) return;
    ::close(s.fd);
    s.fd = -1;
}

void process_pool_state::erase_if_clean(worker_slot* s) {
    if (s->fd >= 0 || !s->reaped || s->call != nullptr) return;
    for (auto it = slots.begin(); it != slots.end(); ++it) {
        if (it->get() == s) {
            std::shared_ptr<worker_slot> keep = std::move(*it);
            slots.erase(it);
            keep->pool.reset();  // the cycle pool -> slot -> pool ends here
            return;
        }
    }
}

void process_pool_state::complete(outcome& o, int status) {
    remote_call* c = o.call;
    job_base* j = c->job;
    if (!o.died) {
        try {
            byte_reader r(o.bytes.data(), o.bytes.size());
            if (o.kind == wire_kind::value) {
                c->deliver(c, r);
            } else if (o.kind == wire_kind::error) {
                j->finish_exception(decode_exception(r));
            } else {
                throw std::runtime_error("weft::process_pool_executor: a malformed reply");
            }
        } catch (...) {
            j->finish_exception(std::current_exception());
        }
        return;
    }
    std::string worker = "its worker (pid " + std::to_string(o.pid) + ")";
    std::exception_ptr e;
    switch (o.killed) {
        case worker_slot::why::cancelled:
            // The future was cancelled first; nothing is left to report.
            e = std::make_exception_ptr(cancelled_error());
            break;
        case worker_slot::why::timed_out: {
            char secs[32];
            std::snprintf(secs, sizeof secs, "%g", c->timeout);
            e = std::make_exception_ptr(timeout_error(
                "weft::process_pool_executor: " + label_of(*c) + " ran past its timeout of " +
                secs + " s: " + worker + " was killed"));
            break;
        }
        case worker_slot::why::loop_closed:
            e = std::make_exception_ptr(executor_shutdown_error(
                "weft::process_pool_executor: the event loop that reads the result of " +
                label_of(*c) + " shut down: " + worker + " was stopped"));
            break;
        case worker_slot::why::none: {
            int sig = status != -1 && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
            int code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            e = std::make_exception_ptr(worker_died_error(
                "weft::process_pool_executor: the worker (pid " + std::to_string(o.pid) +
                    ") running " + label_of(*c) + " " + describe_wait_status(status),
                o.pid, sig, code));
            break;
        }
    }
    j->finish_exception(e);
}

void process_pool_state::finish(std::vector<outcome>& done, bool may_spawn) {
    for (outcome& o : done) {
        int status = -1;
        if (o.died) {
            status = server.reap(o.pid);
            std::lock_guard lock(m);
            if (o.slot) {
                o.slot->reaped = true;
                erase_if_clean(o.slot.get());
            }
        }
        if (o.call != nullptr) {
            complete(o, status);
            release(o.call);
            o.call = nullptr;
        }
    }
    std::unique_lock lock(m);
    dispatch(lock, may_spawn, false);
    maybe_teardown(lock);
    changed.notify_all();
}

void process_pool_state::finish_unclaimed() {
    std::vector<outcome> done;
    {
        std::lock_guard lock(m);
        if (unclaimed.empty()) return;  // shutdown(wait) took them
        done.swap(unclaimed);
        ++finishing;
    }
    finish(done, true);
    std::unique_lock lock(m);
    --finishing;
    maybe_teardown(lock);
    changed.notify_all();  // shutdown(wait) may wait for this batch
}

void process_pool_state::on_timeout(worker_slot* s, remote_call* c) {
    std::lock_guard lock(m);
    if (s->call == c && s->state == worker_slot::phase::busy) {
        kill_slot(*s, worker_slot::why::timed_out);
    }
}

void process_pool_state::on_loop_shutdown(const void* key) {
    // No loop of this group runs now: its pollers are ours to change.
    std::vector<outcome> done;
    std::vector<remote_call*> orphans;
    {
        std::lock_guard lock(m);
        hooked.erase(key);
        // Replies read whose callback may sit on this loop, which will never
        // run it now: finished here (a callback elsewhere finds nothing).
        for (outcome& o : unclaimed)
            done.push_back(std::move(o));
        unclaimed.clear();
        for (auto& s : slots) {
            if (s->owner == nullptr || group_key(*s->owner) != key) continue;
            if (s->state != worker_slot::phase::dead) {
                // Nobody would read its replies any more: stop it (a later
                // call from another loop starts a fresh one).
                if (s->call != nullptr) {
                    kill_slot(*s, worker_slot::why::loop_closed);
                } else {
                    kill_slot(*s, worker_slot::why::none);
                }
                outcome o;
                o.slot = s;
                o.died = true;
                o.call = std::exchange(s->call, nullptr);
                if (o.call != nullptr) o.call->slot = nullptr;
                o.killed = s->killed;
                o.pid = s->pid;
                s->timer.cancel();
                s->state = worker_slot::phase::dead;
                done.push_back(std::move(o));
            }
            close_slot_fd(*s);
        }
        // Slots already dead and reaped (a teardown on another thread left
        // their sockets to this loop, which never read the end of file):
        // closed now, so they leave, and with them the cycle pool -> slot
        // -> pool. The others leave once finish() has reaped them.
        for (std::size_t i = slots.size(); i-- > 0;)
            erase_if_clean(slots[i].get());
        // Calls submitted from this loop that no worker took yet: no loop of
        // theirs will read their results.
        for (auto it = queue.begin(); it != queue.end();) {
            event_loop* home = (*it)->job->core()->loop();
            if (home != nullptr && group_key(*home) == key) {
                orphans.push_back(*it);
                it = queue.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (remote_call* c : orphans) {
        c->job->finish_exception(std::make_exception_ptr(
            executor_shutdown_error("weft::process_pool_executor: the event loop that submitted " +
                                    label_of(*c) + " shut down before a worker took the call")));
        release(c);
    }
    finish(done, false);
}

void process_pool_state::wait_all(std::unique_lock<std::mutex>& lock) {
    event_loop* here = event_loop::current();
    pumping = true;
    for (;;) {
        dispatch(lock, true, true);
        if (queue.empty() && spawning == 0 && !calls_running()) break;
        // Read every busy worker ourselves: their owner may be the loop we
        // are blocking, or one that is not running.
        std::vector<pollfd> fds;
        std::vector<std::shared_ptr<worker_slot>> who;
        std::int64_t now = event_loop::time_ns();
        std::int64_t wait_ns = 20'000'000;  // look again now and then: others read too
        for (auto& s : slots) {
            if (s->call == nullptr || s->fd < 0 || s->state == worker_slot::phase::dead) continue;
            fds.push_back(pollfd{s->fd, POLLIN, 0});
            who.push_back(s);
            if (s->deadline_ns >= 0) {
                if (s->deadline_ns <= now) {
                    if (s->state == worker_slot::phase::busy)
                        kill_slot(*s, worker_slot::why::timed_out);
                } else {
                    wait_ns = std::min(wait_ns, s->deadline_ns - now);
                }
            }
        }
        std::vector<outcome> done;
        done.swap(unclaimed);  // read elsewhere, its callback not run yet: ours
        if (!done.empty()) {
            lock.unlock();
            finish(done, here != nullptr);
            lock.lock();
            continue;
        }
        if (fds.empty()) {
            // Only replies that another loop is finishing now: their
            // callback notifies when done.
            changed.wait_for(lock, std::chrono::milliseconds(1));
            continue;
        }
        lock.unlock();
        ::poll(fds.data(), fds.size(), static_cast<int>((wait_ns + 999'999) / 1'000'000));
        lock.lock();
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            worker_slot& s = *who[i];
            read_slot(s, done);
            if (s.state == worker_slot::phase::dead && (s.owner == nullptr || s.owner == here)) {
                close_slot_fd(s);
            }
        }
        if (!done.empty()) {
            lock.unlock();
            finish(done, here != nullptr);
            lock.lock();
        }
    }
    pumping = false;
}

void process_pool_state::teardown(std::unique_lock<std::mutex>& lock) {
    torn_down = true;
    std::vector<remote_call*> left(queue.begin(), queue.end());
    queue.clear();
    std::vector<remote_call*> running;
    for (auto& s : slots) {
        if (s->call != nullptr) {
            running.push_back(std::exchange(s->call, nullptr));
            running.back()->slot = nullptr;
        }
        s->timer.cancel();
    }
    lock.unlock();
    server.quit();  // kills and reaps every worker, then the server goes
    for (remote_call* c : left) {
        c->job->finish_exception(std::make_exception_ptr(executor_shutdown_error(
            "weft::process_pool_executor: shut down before " + label_of(*c) + " ran")));
        release(c);
    }
    for (remote_call* c : running) {
        c->job->finish_exception(std::make_exception_ptr(executor_shutdown_error(
            "weft::process_pool_executor: shut down while " + label_of(*c) + " ran")));
        release(c);
    }
    lock.lock();
    event_loop* here = event_loop::current();
    // In Go mode this step may have blocked long enough (server.quit above
    // waits for the workers) for the monitor to give this loop to another
    // thread, which may be inside the loop's poll with events for these
    // sockets: then the loop is not ours and its sockets are left to it.
    // While the owner scope is held the loop cannot be taken.
    std::optional<event_loop::owner_scope> ours;
    if (here != nullptr) {
        ours.emplace(*here);
        if (!ours->owned()) here = nullptr;
    }
    for (auto& s : slots) {
        s->state = worker_slot::phase::dead;
        s->reaped = true;
        // Sockets in other loops' pollers: their owners see end of file and
        // close them (or their shutdown callback does).
        if (s->owner == nullptr || s->owner == here) close_slot_fd(*s);
    }
    for (std::size_t i = slots.size(); i-- > 0;)
        erase_if_clean(slots[i].get());
    changed.notify_all();
}

void interrupt_process_call(remote_call* c) noexcept {
    process_pool_state& p = *c->pool;
    std::lock_guard lock(p.m);
    worker_slot* s = c->slot;
    if (s != nullptr && s->call == c && s->state == worker_slot::phase::busy) {
        p.kill_slot(*s, worker_slot::why::cancelled);
    }
}

}  // namespace detail

int process_pool_executor::default_max_workers() noexcept {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

process_pool_executor::process_pool_executor(int max_workers) {
    if (max_workers < 1) {
        throw std::invalid_argument(
            "weft::process_pool_executor: max_workers must be at least 1, got " +
            std::to_string(max_workers));
    }
    state_ = std::make_shared<detail::process_pool_state>(max_workers);
}

process_pool_executor::~process_pool_executor() {
    {
        std::lock_guard lock(state_->m);
        if (state_->shut && !state_->wait_on_destroy) return;  // finishes in the background
    }
    try {
        shutdown(true);
    } catch (...) {
        event_loop::default_exception_handler(
            exception_context{"error while shutting down a weft::process_pool_executor",
                              std::current_exception(),
                              {}});
    }
}

void process_pool_executor::enqueue(detail::remote_call* c) {
    detail::process_pool_state& p = *state_;
    // The answer comes through the loop's poller: an awaiting task must not
    // poll for it (job_awaiter_base).
    c->job->delivered_by_loop = true;
    if (event_loop::current() == nullptr) {
        detail::release(c);
        throw no_running_loop_error();
    }
    std::unique_lock lock(p.m);
    if (p.shut) {
        lock.unlock();
        detail::release(c);
        throw executor_shutdown_error(
            "weft::process_pool_executor: cannot schedule new work after shutdown");
    }
    if (c->named && c->a >= p.known_functions) {
        std::string label = detail::label_of(*c);
        lock.unlock();
        detail::release(c);
        throw std::invalid_argument(
            "weft::process_pool_executor: " + label +
            " was registered after this pool started its fork server, so its workers do not "
            "know it: register functions at namespace scope, before creating pools");
    }
    c->pool = state_;
    c->stop = &detail::interrupt_process_call;
    p.queue.push_back(c);
    p.dispatch(lock, true, false);
}

void process_pool_executor::shutdown(bool wait, bool cancel_futures) {
    detail::process_pool_state& p = *state_;
    std::unique_lock lock(p.m);
    p.shut = true;
    if (!wait) p.wait_on_destroy = false;
    if (cancel_futures) {
        std::vector<detail::remote_call*> pending(p.queue.begin(), p.queue.end());
        p.queue.clear();
        lock.unlock();
        for (detail::remote_call* c : pending) {
            c->job->cancel_job(nullptr);
            detail::release(c);
        }
        lock.lock();
    }
    if (wait) {
        if (!p.torn_down) p.wait_all(lock);
        if (!p.torn_down) p.teardown(lock);
    } else {
        p.maybe_teardown(lock);
    }
}

int process_pool_executor::max_workers() const noexcept {
    return state_->max_workers;
}

bool process_pool_executor::is_shutdown() const noexcept {
    std::lock_guard lock(state_->m);
    return state_->shut;
}

pid_t process_pool_executor::fork_server_pid() const noexcept {
    return state_->server.pid();
}

std::vector<pid_t> process_pool_executor::worker_pids() const {
    std::lock_guard lock(state_->m);
    std::vector<pid_t> out;
    for (auto& s : state_->slots) {
        if (s->state != detail::worker_slot::phase::dead) out.push_back(s->pid);
    }
    return out;
}

}  // namespace weft
