#include "execution.hpp"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace weft::model {

namespace {

thread_local execution* t_execution = nullptr;

// After a failure the threads drain for at most this many more steps; a
// model that does not end by then is livelocked even under a fair scheduler.
constexpr unsigned drain_steps = 1'000'000;

}  // namespace

void thread_state::fence(std::memory_order order, view& sc) {
    if (detail::acquires(order)) now.join(acquired);
    if (order == std::memory_order_seq_cst) {
        // Fences are totally ordered (S, here the order in which they run):
        // what happened before an earlier one is seen after a later one.
        sc.join(now);
        now.join(sc);
    }
    if (detail::releases(order)) released = now;
}

execution::execution(const options& opts, std::vector<choice> replay, fiber_stacks& stacks,
                     bool tracing, std::uint64_t seed)
    : preemption_bound_(opts.preemptions),
      stale_read_bound_(opts.stale_reads),
      history_(opts.history < 1 ? 1 : opts.history),
      max_steps_(opts.max_steps),
      stacks_(stacks),
      tracing_(tracing),
      rng_(seed),
      random_(seed != 0),
      trail_(std::move(replay)) {}

execution::~execution() = default;

execution& execution::current() {
    if (t_execution == nullptr) {
        std::fprintf(stderr, "model: a model operation outside a model thread\n");
        std::abort();
    }
    return *t_execution;
}

void execution::run(const std::function<void()>& body) {
    execution* outer = std::exchange(t_execution, this);
    spawn(body);
    running_ = threads_[0].get();
    switch_fiber(home_, running_->context);  // back when every thread is done
    t_execution = outer;
}

unsigned execution::spawn(std::function<void()> body) {
    auto id = static_cast<unsigned>(threads_.size());
    auto t = std::make_unique<thread_state>(id);
    if (running_ != nullptr) {
        // Spawning happens before everything the new thread does.
        t->now = running_->now;
        t->released = running_->now;
    }
    t->body = std::move(body);
    thread_state& ref = *t;
    threads_.push_back(std::move(t));
    if (tracing_ && running_ != nullptr) {
        trace("spawn t" + std::to_string(id), where::current());
    }
    stacks_.prepare(id, ref.context, &execution::fiber_main);
    return id;
}

void execution::fiber_main() {
    execution& e = *t_execution;
    e.run_thread(*e.running_);
}

void execution::run_thread(thread_state& t) {
    enter_fiber(home_);
    {
        // Taken out so that what the body holds dies while this thread
        // still runs.
        std::function<void()> body = std::move(t.body);
        try {
            body();
        } catch (const std::exception& e) {
            fail("t" + std::to_string(t.id) + " threw: " + e.what());
        } catch (...) {
            fail("t" + std::to_string(t.id) + " threw");
        }
    }
    t.state = thread_state::status::finished;
    wake(&t);
    // Nothing on this fiber's stack needs destroying from here on: it is
    // left for good.
    if (++finished_ == threads_.size()) leave_fiber(home_);
    thread_state* next = pick_next(t);
    if (next == nullptr) next = when_all_blocked(t);
    running_ = next;
    leave_fiber(next->context);
}

void execution::count_step() {
    ++steps_;
    if (!draining_ && steps_ > max_steps_) {
        fail("more than " + std::to_string(max_steps_) +
             " steps: a livelock (or raise options.max_steps)");
    }
    if (draining_ && steps_ > max_steps_ + drain_steps) {
        std::fprintf(stderr,
                     "model: the threads do not finish even under a fair scheduler after: %s\n",
                     failure_.c_str());
        std::abort();
    }
}

void execution::schedule() {
    thread_state& me = self();
    count_step();
    thread_state* next = pick_next(me);
    if (next == nullptr) next = when_all_blocked(me);
    switch_to(me, next);
}

thread_state* execution::pick_next(thread_state& me) {
    const bool can_go_on = me.state == thread_state::status::runnable;
    const bool yielded = std::exchange(me.yielded, false);
    thread_state* opts[64];
    std::uint32_t n = 0;
    auto others = [&] {
        // In id order after `me`, so that draining is round robin.
        for (std::size_t i = 1; i <= threads_.size() && n < 64; ++i) {
            thread_state& t = *threads_[(me.id + i) % threads_.size()];
            if (&t != &me && t.state == thread_state::status::runnable) opts[n++] = &t;
        }
    };
    if (draining_) {
        others();
        if (n > 0) return opts[0];
        return can_go_on ? &me : nullptr;
    }
    if (can_go_on && !yielded) {
        opts[n++] = &me;
        if (preemptions_ < preemption_bound_) others();
        std::uint32_t k = choose(n, choice::kind::preempt);
        if (k != 0) ++preemptions_;
        return opts[k];
    }
    others();
    if (n == 0) return can_go_on ? &me : nullptr;
    return opts[choose(n, choice::kind::pick)];
}

thread_state* execution::when_all_blocked(thread_state& me) {
    // Quiet: the thread waiting for that goes on (at most one waits).
    for (auto& t : threads_) {
        if (t->state == thread_state::status::blocked && t->blocked_on == &quiet_) {
            t->state = thread_state::status::runnable;
            t->blocked_on = nullptr;
            return t.get();
        }
    }
    std::string who;
    for (auto& t : threads_) {
        if (t->state == thread_state::status::blocked) who += " t" + std::to_string(t->id);
    }
    fail("deadlock: every thread left is blocked (" + who.substr(1) + ")");
    // Draining: a thread blocked on a mutex takes it anyway.
    for (auto& t : threads_) {
        if (t->state == thread_state::status::blocked && t->blocked_on != nullptr) {
            bool on_thread = false;
            for (auto& u : threads_)
                on_thread = on_thread || t->blocked_on == u.get();
            if (!on_thread) {
                t->state = thread_state::status::runnable;
                t->blocked_on = nullptr;
            }
        }
    }
    thread_state* next = pick_next(me);
    if (next == nullptr) {
        std::fprintf(stderr, "model: threads blocked for good after: %s\n", failure_.c_str());
        std::abort();
    }
    return next;
}

void execution::switch_to(thread_state& me, thread_state* next) {
    if (next == &me) return;
    running_ = next;
    switch_fiber(me.context, next->context);
}

std::uint32_t execution::choose(std::uint32_t n, choice::kind what) {
    if (n <= 1 || draining_) return 0;
    if (replayed_ < trail_.size()) {
        choice& c = trail_[replayed_++];
        if (c.options != n || c.what != what) {
            fail("the model is not deterministic: choice " + std::to_string(replayed_) + " had " +
                 std::to_string(c.options) + " options and now has " + std::to_string(n));
            return 0;
        }
        return c.taken;
    }
    std::uint32_t taken = 0;
    if (random_) {
        switch (what) {
            case choice::kind::preempt:
                // Rarely: preemptions spread over the whole execution.
                if (rng_() % 16 == 0) taken = 1 + static_cast<std::uint32_t>(rng_() % (n - 1));
                break;
            case choice::kind::pick:
                taken = static_cast<std::uint32_t>(rng_() % n);
                break;
            case choice::kind::read:
                if (rng_() % 2 == 0) taken = 1 + static_cast<std::uint32_t>(rng_() % (n - 1));
                break;
        }
    }
    trail_.push_back(choice{what, n, taken});
    ++replayed_;
    return taken;
}

std::uint32_t execution::choose_store(std::uint32_t n) {
    thread_state& me = self();
    if (std::exchange(me.read_newest, false)) return 0;
    if (stale_reads_ >= stale_read_bound_) return 0;
    std::uint32_t k = choose(n, choice::kind::read);
    if (k != 0) ++stale_reads_;
    return k;
}

void execution::block_on(const void* what) {
    thread_state& me = self();
    me.state = thread_state::status::blocked;
    me.blocked_on = what;
    schedule();
}

void execution::wake(const void* what) {
    for (auto& t : threads_) {
        if (t->state == thread_state::status::blocked && t->blocked_on == what) {
            t->state = thread_state::status::runnable;
            t->blocked_on = nullptr;
        }
    }
}

void execution::join(unsigned thread) {
    schedule();
    thread_state& t = *threads_.at(thread);
    while (t.state != thread_state::status::finished)
        block_on(&t);
    // Everything the thread did happens before the join returns.
    self().now.join(t.now);
    if (tracing_) trace("join t" + std::to_string(thread), where::current());
}

void execution::yield() {
    thread_state& me = self();
    me.yielded = true;
    me.read_newest = true;
    if (tracing_) trace("yield", where::current());
    schedule();
}

void execution::wait_until_quiet() {
    schedule();
    if (tracing_) trace("wait until quiet", where::current());
    block_on(&quiet_);
    // The checks that follow see everything done so far, as after a join.
    for (auto& t : threads_)
        self().now.join(t->now);
    if (tracing_) trace("quiet", where::current());
}

void execution::fence_everywhere() {
    schedule();
    thread_state& me = self();
    me.fence(std::memory_order_seq_cst, sc_);
    // Every thread, wherever it is: a running one takes the kernel's
    // interrupt there; one that is descheduled, blocked or gone passed
    // through the kernel, a full fence, on its way.
    for (auto& t : threads_) {
        if (t.get() != &me) t->fence(std::memory_order_seq_cst, sc_);
    }
    me.fence(std::memory_order_seq_cst, sc_);
}

void execution::fail(const std::string& what) {
    if (tracing_) trace("FAILED: " + what, where::current());
    if (!failure_.empty()) return;
    failure_ = what;
    draining_ = true;
}

void execution::trace(const std::string& what, const where& at) {
    if (draining_) return;  // past the failure: not part of the story
    std::string file = at.file_name();
    if (auto slash = file.rfind('/'); slash != std::string::npos) file = file.substr(slash + 1);
    char head[48];
    std::snprintf(head, sizeof head, "  %5u  t%u  ", steps_, running_ ? running_->id : 0);
    trace_ += head;
    trace_ += what;
    traced_threads_.push_back(running_ ? running_->id : 0);
    if (what.rfind("FAILED", 0) != 0) {
        trace_ += "  (" + file + ":" + std::to_string(at.line()) + ")";
    }
    trace_ += '\n';
}

}  // namespace weft::model
