// model::mutex: std::mutex for model threads. Locking and unlocking are
// scheduling points; a thread that finds it held blocks (the checker then
// runs another, which is not a preemption); unlock releases what the holder
// knew to the next locker, as std::mutex does.
#pragma once

#include "execution.hpp"

namespace weft::model {

class mutex {
public:
    mutex() = default;
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;

    void lock(const where& w = where::current()) {
        execution& e = execution::current();
        e.schedule();
        // Draining after a deadlock, a blocked thread is let in anyway.
        while (held_ && !e.draining())
            e.block_on(this);
        held_ = true;
        e.self().now.join(released_);
        if (e.tracing()) e.trace("mutex lock", w);
    }

    bool try_lock(const where& w = where::current()) {
        execution& e = execution::current();
        e.schedule();
        if (held_) return false;
        held_ = true;
        e.self().now.join(released_);
        if (e.tracing()) e.trace("mutex try_lock", w);
        return true;
    }

    void unlock(const where& w = where::current()) {
        execution& e = execution::current();
        e.schedule();
        released_ = e.self().now;
        held_ = false;
        e.wake(this);
        if (e.tracing()) e.trace("mutex unlock", w);
    }

private:
    bool held_ = false;
    view released_;  // what the last holder knew when it unlocked
};

}  // namespace weft::model
