// One run of a model under the checker: its threads, which one runs, the
// choices made so far, and the memory state that all locations share (the
// seq_cst view).
//
// Model threads are fibers (fiber.hpp), one running at a time. Before each
// visible operation (an atomic access, a fence, a mutex lock or unlock, a
// join) the running thread reaches a scheduling point, where the execution
// decides who runs next and switches to it if it is someone else. Every
// decision with more than one option (which thread runs, which store a load
// reads) is a `choice`; the checker (checker.cpp) replays a prefix of
// choices and varies the next one to enumerate executions depth first.
//
// After a failure the execution drains: the threads run on, round robin,
// loads reading the newest store, until they have all returned, so that
// what their stacks hold is destroyed as it would be (a fiber cannot be
// unwound from outside, and the code under test is noexcept). Draining is
// fair, so any code that terminates under a fair scheduler ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <weft/detail/source_location.hpp>

#include "fiber.hpp"
#include "options.hpp"
#include "view.hpp"

namespace weft::model {

// Where an operation is in the source, for traces: std::source_location, or
// the scheduler's stand-in where the standard library has none (clang 14 with
// libstdc++ 12, which builds the asan preset).
using where = ::weft::detail::source_location;

namespace detail {

inline bool acquires(std::memory_order o) {
    return o == std::memory_order_acquire || o == std::memory_order_acq_rel ||
           o == std::memory_order_seq_cst || o == std::memory_order_consume;
}
inline bool releases(std::memory_order o) {
    return o == std::memory_order_release || o == std::memory_order_acq_rel ||
           o == std::memory_order_seq_cst;
}

}  // namespace detail

struct thread_state {
    enum class status : std::uint8_t { runnable, blocked, finished };

    explicit thread_state(unsigned i) : id(i) {}

    // The effect of a fence of `order` on what this thread knows; `sc` is
    // the seq_cst view, which seq_cst fences join both ways.
    void fence(std::memory_order order, view& sc);

    const unsigned id;
    status state = status::runnable;
    const void* blocked_on = nullptr;  // a mutex, or the thread it joins
    // It called yield_now: the others run first (a spin-wait that only
    // they can end), and its next load reads the newest store.
    bool yielded = false;
    bool read_newest = false;
    fiber_context context;  // where it resumes when its turn comes
    view now;               // what it knows
    view released;          // `now` at its last release fence: what relaxed stores carry
    view acquired;          // what its relaxed loads read; an acquire fence joins it
    std::function<void()> body;
};

// One decision of an execution.
struct choice {
    enum class kind : std::uint8_t {
        preempt,  // option 0: the running thread goes on; others preempt it
        pick,     // the running thread cannot go on: any of the others
        read,     // option 0: the newest store; then older ones
    };
    kind what;
    std::uint32_t options;
    std::uint32_t taken;
};

class execution {
public:
    execution(const options& opts, std::vector<choice> replay, fiber_stacks& stacks, bool tracing,
              std::uint64_t seed);
    ~execution();
    execution(const execution&) = delete;
    execution& operator=(const execution&) = delete;

    // Runs `body` as thread 0; returns once every model thread has returned.
    void run(const std::function<void()>& body);

    // The execution of the calling model thread (aborts on other threads).
    static execution& current();
    thread_state& self() noexcept { return *running_; }

    // ---- the operations' side
    // A scheduling point: another thread may run before this one goes on.
    void schedule();
    // Which of `n` stores a load reads (0: the newest; counted against the
    // stale-read bound).
    std::uint32_t choose_store(std::uint32_t n);
    std::uint32_t new_location() noexcept { return locations_++; }
    unsigned history() const noexcept { return history_; }
    view& sc() noexcept { return sc_; }
    // Blocks the running thread until wake(what); draining, mutexes do not
    // block (a deadlocked model must still finish).
    void block_on(const void* what);
    void wake(const void* what);
    unsigned spawn(std::function<void()> body);
    void join(unsigned thread);
    void yield();
    // Blocks the running thread until every other thread is blocked or
    // done: the model has gone quiet (nothing more can happen unless a
    // blocked thread is released). It then knows what they all did.
    void wait_until_quiet();
    // The membarrier() the hand-off's heavy fence uses: a seq_cst fence in
    // the caller and, at their current point, in every other thread.
    void fence_everywhere();

    // ---- failures
    void fail(const std::string& what);
    bool failed() const noexcept { return !failure_.empty(); }
    bool draining() const noexcept { return draining_; }
    const std::string& failure() const noexcept { return failure_; }

    // ---- what the checker reads back
    const std::vector<choice>& choices() const noexcept { return trail_; }
    bool tracing() const noexcept { return tracing_; }
    void trace(const std::string& what, const where& at);
    const std::string& trace_text() const noexcept { return trace_; }
    // The thread of each traced operation, in order.
    const std::vector<unsigned>& traced_threads() const noexcept { return traced_threads_; }

private:
    thread_state* pick_next(thread_state& me);
    std::uint32_t choose(std::uint32_t n, choice::kind what);
    void switch_to(thread_state& me, thread_state* next);
    static void fiber_main();
    [[noreturn]] void run_thread(thread_state& t);
    void count_step();
    thread_state* when_all_blocked(thread_state& me);

    const unsigned preemption_bound_;
    const unsigned stale_read_bound_;
    const unsigned history_;
    const unsigned max_steps_;
    fiber_stacks& stacks_;
    const bool tracing_;
    std::mt19937_64 rng_;
    const bool random_;

    std::vector<std::unique_ptr<thread_state>> threads_;
    thread_state* running_ = nullptr;
    unsigned finished_ = 0;
    fiber_context home_;  // the test's thread, which run() returns on

    std::vector<choice> trail_;
    std::size_t replayed_ = 0;  // choices of trail_ taken so far
    unsigned preemptions_ = 0;
    unsigned stale_reads_ = 0;
    unsigned steps_ = 0;

    std::uint32_t locations_ = 0;
    view sc_;

    std::string failure_;
    bool draining_ = false;
    std::string trace_;
    std::vector<unsigned> traced_threads_;
    char quiet_ = 0;  // what wait_until_quiet blocks on
};

}  // namespace weft::model
