// model::binary_semaphore: std::binary_semaphore for model threads, and the
// model of an eventfd that a parked thread sleeps on. release() happens
// before the acquire() that takes it; acquire() blocks (a free switch)
// while there is nothing to take.
#pragma once

#include "execution.hpp"

namespace weft::model {

class binary_semaphore {
public:
    explicit binary_semaphore(bool available = false) : available_(available) {}
    binary_semaphore(const binary_semaphore&) = delete;
    binary_semaphore& operator=(const binary_semaphore&) = delete;

    void release(const where& w = where::current()) {
        execution& e = execution::current();
        e.schedule();
        available_ = true;
        released_.join(e.self().now);
        e.wake(this);
        if (e.tracing()) e.trace("semaphore release", w);
    }

    void acquire(const where& w = where::current()) {
        execution& e = execution::current();
        e.schedule();
        // Draining after a deadlock, a blocked thread goes on anyway.
        while (!available_ && !e.draining())
            e.block_on(this);
        available_ = false;
        e.self().now.join(released_);
        if (e.tracing()) e.trace("semaphore acquire", w);
    }

private:
    bool available_;
    view released_;  // what the releasers knew
};

}  // namespace weft::model
