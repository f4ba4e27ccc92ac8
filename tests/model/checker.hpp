// A model checker for weft's lock-free parts, in the manner of Tokio's loom
// and of CHESS: a model is a function that starts a few threads doing
// operations on model atomics (atomic.hpp) and mutexes (mutex.hpp), and
// checks a property with model::expect. check() runs it again and again,
// once per interleaving of those operations and per value each load may read
// under the C++ memory model, depth first, within bounds (options.hpp) that
// keep the search finite: at most `preemptions` forced context switches and
// `stale_reads` loads of a store older than the newest, per execution.
//
//     report r = model::check({}, [] {
//         model::atomic<int> x{0};
//         model::thread t([&] { x.store(1, std::memory_order_release); });
//         int seen = x.load(std::memory_order_acquire);
//         t.join();
//         model::expect(seen == 0 || seen == 1, "x is 0 or 1");
//     });
//
// A failed expectation stops the search; the report holds the choices that
// led to it and the trace of that execution, one line per operation with
// the thread, the value read or written and the line of code.
// docs/model_checking.md has the rest.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "atomic.hpp"
#include "execution.hpp"
#include "mutex.hpp"
#include "options.hpp"
#include "semaphore.hpp"

namespace weft::model {

// Explores `body`. Call it from an ordinary thread (a test).
report check(const options& opts, const std::function<void()>& body);

// std::thread for model threads. Joined by its destructor if not before.
class thread {
public:
    explicit thread(std::function<void()> body)
        : id_(execution::current().spawn(std::move(body))) {}
    ~thread() {
        if (joinable_) join();
    }
    thread(const thread&) = delete;
    thread& operator=(const thread&) = delete;

    void join() {
        joinable_ = false;
        execution::current().join(id_);
    }

private:
    unsigned id_;
    bool joinable_ = true;
};

// A spin-wait's pause: the others run first. Every spin loop in a model
// must call it, or the checker, which never preempts for free, would spin
// it until the step bound.
inline void yield_now() {
    execution::current().yield();
}

// membarrier(): a seq_cst fence in the caller and, at the point each has
// reached, in every other thread.
inline void fence_everywhere(const where& w = where::current()) {
    execution& e = execution::current();
    e.fence_everywhere();
    if (e.tracing()) e.trace("fence everywhere (membarrier)", w);
}

// Blocks until every other model thread is blocked or has returned: the
// point where a model of parking workers checks that nothing was left
// behind. What the others did then happens before what the caller does
// next, as after a join. At most one thread may wait for it at a time.
inline void wait_until_quiet() {
    execution::current().wait_until_quiet();
}

// The property a model checks: false is a violation, reported with `what`.
inline void expect(bool ok, const std::string& what, const where& w = where::current()) {
    if (ok) return;
    execution& e = execution::current();
    std::string file = w.file_name();
    if (auto slash = file.rfind('/'); slash != std::string::npos) file = file.substr(slash + 1);
    e.fail("t" + std::to_string(e.self().id) + ": " + what + " (" + file + ":" +
           std::to_string(w.line()) + ")");
}

}  // namespace weft::model
