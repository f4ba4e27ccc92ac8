// Waiting for readiness (step 3 of the protocol in io_entry.hpp), and the
// non-suspending half of an I/O operation (steps 1 and 2).
//
//     for (;;) {
//         io_attempt a = try_io(h, io_dir::read, [&](int fd) { return ::recv(fd, ...); });
//         if (a.again) {
//             if (!co_await io_wait(h, io_dir::read, a.seq)) throw closed_error(...);
//             continue;
//         }
//         ...a.n, or a.err...
//     }
//
// io_wait follows the suspension protocol of docs/internals.md: its cancel
// hook is installed before the waiter is linked, linking is the last thing
// await_suspend does, and a cancel racing an event is decided under the
// entry's lock, so exactly one of them wakes the task.
#pragma once

#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <sys/types.h>

#include <weft/detail/task_record.hpp>
#include <weft/errors.hpp>
#include <weft/io/errors.hpp>

#include "io_entry.hpp"

namespace weft::detail {

class io_wait final : public cancel_hook, public io_waiter {
public:
    io_wait(io_handle h, io_dir d, std::uint64_t seen) noexcept
        : entry_(h.entry), gen_(h.gen), seen_(seen) {
        dir = d;
    }
    io_wait(const io_wait&) = delete;
    io_wait& operator=(const io_wait&) = delete;
    ~io_wait() {
        if (task_ != nullptr) {
            // Torn down while waiting (a pending task destroyed at loop
            // close): leave the list so that no event touches us.
            entry_->lock();
            if (linked) entry_->unlink(this);
            entry_->unlock();
            task_->clear_hook(this);
        }
    }

    bool await_ready() const noexcept { return false; }

    bool await_suspend(std::coroutine_handle<> h) {
        task_record& t = current_task_for_await("a weft::io operation");
        t.link = h;
        task_ = &t;
        cancel = &on_cancel;
        fire = &on_fire;
        result = pending;
        t.set_hook(this);  // may cancel at once (a cancel was pending)
        entry_->lock();
        if (result == cancelled) {
            entry_->unlock();
            return false;
        }
        if (entry_->closed_for(gen_)) {
            result = closed;
        } else if (entry_->seq(dir) != seen_) {
            result = ready;  // an edge since the caller's syscall: try again
        } else {
            entry_->link(this);
            entry_->unlock();  // the task is not ours after this
            return true;
        }
        entry_->unlock();
        return false;
    }

    // True: the fd may be ready, try again. False: it was closed.
    bool await_resume() {
        task_record* t = std::exchange(task_, nullptr);
        t->clear_hook(this);
        if (result == cancelled) {
            t->end_cancelled_wait(this);
            if (message_) throw cancelled_error(std::move(*message_));
            throw cancelled_error();
        }
        check_cancelled();
        return result == ready;
    }

private:
    static bool on_cancel(cancel_hook* hook, const std::string* message) {
        auto* self = static_cast<io_wait*>(hook);
        io_entry* e = self->entry_;
        // The task's hook lock keeps the awaiter alive while we are here.
        // The message is kept only by the cancel that ends the wait: a later
        // one (the wait already cancelled) must not replace it.
        std::unique_ptr<std::string> text;
        if (message) text = std::make_unique<std::string>(*message);
        e->lock();
        if (self->linked) {
            e->unlink(self);
            self->result = cancelled;
            self->message_ = std::move(text);
            e->unlock();
            self->task_->wake();
            return true;
        }
        if (self->result == pending) {
            // Not linked yet: await_suspend sees this and does not suspend.
            self->result = cancelled;
            self->message_ = std::move(text);
            e->unlock();
            return true;
        }
        e->unlock();
        return false;  // an event, a close or an earlier cancel got there first
    }
    static void on_fire(io_waiter* w) noexcept {
        task_record* t = static_cast<io_wait*>(w)->task_;
        t->wake();  // the awaiter may be gone from here on
    }

    io_entry* entry_;
    std::uint32_t gen_;
    std::uint64_t seen_;
    task_record* task_ = nullptr;
    std::unique_ptr<std::string> message_;
};

// What one non-blocking attempt gave.
struct io_attempt {
    ssize_t n = -1;       // the syscall's result when it did not fail
    int err = 0;          // its errno when it failed (never EAGAIN or EINTR)
    bool again = false;   // would block: wait with io_wait(h, dir, seq)
    bool closed = false;  // the fd is closed (or closing)
    std::uint64_t seq = 0;

    // Whether the attempt completed or failed (a.n, a.err), rather than
    // having to wait for readiness or finding the fd closed.
    bool done() const noexcept { return !again && !closed; }
};

// Steps 1 and 2 of the protocol: one syscall `op(fd)` (returning ssize_t and
// setting errno), retried on EINTR, with the entry registered if it would
// block. With `stream`, a read known to find the buffer empty (a short
// receive since the last edge: io_entry::note_drained) is not even tried.
template <class Op>
io_attempt try_io(io_handle h, io_dir d, Op&& op, bool stream = false) {
    io_attempt a;
    if (h.entry == nullptr || !h.entry->begin_op(h.gen)) {
        a.closed = true;
        return a;
    }
    struct end_guard {
        io_entry* e;
        ~end_guard() { e->end_op(); }
    } guard{h.entry};
    a.seq = h.entry->seq(d);
    if (stream && h.entry->known_drained(d, a.seq)) {
        a.again = true;
        h.entry->ensure_registered();
        return a;
    }
    for (;;) {
        a.n = op(h.entry->fd());
        if (a.n >= 0) return a;
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINPROGRESS) {
            a.again = true;
            h.entry->ensure_registered();
            return a;
        }
        a.err = err;
        return a;
    }
}

// The retry every operation's loop makes after an attempt that is not
// done(): waits for readiness, or raises closed_error naming `what` when
// the fd was closed before the attempt or during the wait.
//
//     for (;;) {
//         io_attempt a = try_io(h, io_dir::read, [&](int fd) { return ::recv(fd, ...); });
//         if (!a.done()) {
//             co_await until_ready(h, io_dir::read, a, "weft::sock_recv");
//             continue;
//         }
//         ...a.n, or a.err...
//     }
class until_ready {
public:
    until_ready(io_handle h, io_dir d, const io_attempt& a, const char* what) noexcept
        : wait_(h, d, a.seq), what_(what), closed_(a.closed) {}

    bool await_ready() const noexcept { return closed_; }  // raise at once
    bool await_suspend(std::coroutine_handle<> c) { return wait_.await_suspend(c); }
    void await_resume() {
        if (closed_ || !wait_.await_resume()) throw_closed(what_);
    }

private:
    io_wait wait_;
    const char* what_;
    bool closed_;
};

}  // namespace weft::detail
