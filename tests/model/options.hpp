// The knobs of one model check (checker.hpp) and what it reports.
#pragma once

#include <cstdint>
#include <string>

namespace weft::model {

struct options {
    // Context switches away from a thread that could have gone on (CHESS's
    // preemption bound). Switches at a block, an exit or a yield are free.
    // Most concurrency bugs need two or three.
    unsigned preemptions = 2;
    // Loads per execution that may read a store older than the newest one
    // (the weak-memory counterpart of the preemption bound). Each such read
    // is one more stale value the other threads have to survive.
    unsigned stale_reads = 2;
    // Stores each location remembers; a load may read only those (and only
    // the ones coherence allows).
    unsigned history = 4;
    // Scheduling points in one execution before it counts as a livelock.
    unsigned max_steps = 20000;
    // Executions before the check gives up unexhausted (0: no limit).
    std::uint64_t max_executions = 0;
    // Wall time before the check gives up unexhausted (0: no limit).
    double max_seconds = 0;
    // Nonzero: instead of the exhaustive search, `random_executions`
    // executions with choices drawn from this seed (for models too big to
    // exhaust; the bounds above still apply).
    std::uint64_t seed = 0;
    std::uint64_t random_executions = 0;
};

struct report {
    std::uint64_t executions = 0;
    // Every execution within the bounds was explored.
    bool exhausted = false;
    bool failed = false;
    // The failure, the choices that lead to it and the trace of its
    // execution, operation by operation (empty when none failed).
    std::string failure;
    double seconds = 0;
};

}  // namespace weft::model
