// The search: executions depth first over their choices (execution.hpp).
// Each execution replays the choices of the previous one up to its deepest
// choice that has an option left, takes that option, and then option 0 at
// every new choice (the running thread goes on; a load reads the newest
// store). So the first execution is the one with no preemption and no stale
// read, and the search ends when every choice has had every option.
#include "checker.hpp"

#include <chrono>
#include <cstdlib>

namespace weft::model {

namespace {

// "t0 x12, t1 x3, ...": which thread ran each traced operation.
std::string runs(const std::vector<unsigned>& threads) {
    std::string out;
    for (std::size_t i = 0; i < threads.size();) {
        std::size_t j = i;
        while (j < threads.size() && threads[j] == threads[i])
            ++j;
        if (!out.empty()) out += ", ";
        out += "t" + std::to_string(threads[i]) + " x" + std::to_string(j - i);
        i = j;
    }
    return out;
}

std::string choices_text(const std::vector<choice>& trail) {
    std::string out;
    for (const choice& c : trail) {
        if (!out.empty()) out += ' ';
        out += c.what == choice::kind::read ? 'r' : 't';
        out += std::to_string(c.taken) + "/" + std::to_string(c.options);
    }
    return out;
}

// The failing execution again, traced.
std::string describe(const options& opts, const execution& failed, std::uint64_t executions,
                     fiber_stacks& stacks, const std::function<void()>& body) {
    execution again(opts, failed.choices(), stacks, true, 0);
    again.run(body);
    std::string out = failed.failure() + "\n";
    out += "found by execution " + std::to_string(executions) + "\n";
    out += "choices (t: which thread runs, r: which store a load reads; taken/options): " +
           choices_text(failed.choices()) + "\n";
    out += "threads, step by step: " + runs(again.traced_threads()) + "\n";
    if (again.failure() != failed.failure()) {
        out += "(the traced replay failed differently: " + again.failure() + ")\n";
    }
    out += "trace (step, thread, operation, code):\n" + again.trace_text();
    return out;
}

}  // namespace

const char* detail::order_name(std::memory_order o) {
    switch (o) {
        case std::memory_order_relaxed:
            return "relaxed";
        case std::memory_order_consume:
            return "consume";
        case std::memory_order_acquire:
            return "acquire";
        case std::memory_order_release:
            return "release";
        case std::memory_order_acq_rel:
            return "acq_rel";
        case std::memory_order_seq_cst:
            return "seq_cst";
    }
    return "?";
}

// WEFT_MODEL_PREEMPTIONS and WEFT_MODEL_STALE_READS raise (or lower) every
// model's bounds, for a deeper search than CI's by hand.
options from_environment(options opts) {
    if (const char* p = std::getenv("WEFT_MODEL_PREEMPTIONS")) {
        opts.preemptions = static_cast<unsigned>(std::strtoul(p, nullptr, 10));
        opts.max_seconds = 0;
        opts.max_executions = 0;
    }
    if (const char* s = std::getenv("WEFT_MODEL_STALE_READS")) {
        opts.stale_reads = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
        opts.max_seconds = 0;
        opts.max_executions = 0;
    }
    return opts;
}

report check(const options& given, const std::function<void()>& body) {
    const options opts = from_environment(given);
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(clock::now() - start).count(); };
    const bool random = opts.seed != 0;

    fiber_stacks stacks;
    report r;
    std::vector<choice> trail;
    for (;;) {
        // splitmix64's increment: well-spread seeds from consecutive numbers.
        std::uint64_t seed = random ? opts.seed + r.executions * 0x9e3779b97f4a7c15ULL : 0;
        if (random && seed == 0) seed = 1;
        execution ex(opts, trail, stacks, false, seed);
        ex.run(body);
        ++r.executions;
        if (ex.failed()) {
            r.failed = true;
            r.failure = describe(opts, ex, r.executions, stacks, body);
            break;
        }
        if (random) {
            if (r.executions >= opts.random_executions) break;
        } else {
            trail = ex.choices();
            while (!trail.empty() && trail.back().taken + 1 >= trail.back().options)
                trail.pop_back();
            if (trail.empty()) {
                r.exhausted = true;
                break;
            }
            ++trail.back().taken;
        }
        if (opts.max_executions != 0 && r.executions >= opts.max_executions) break;
        if (opts.max_seconds > 0 && elapsed() > opts.max_seconds) break;
    }
    r.seconds = elapsed();
    return r;
}

}  // namespace weft::model
