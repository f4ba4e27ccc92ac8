// What weft-bench prints: progress and a table for people on stderr, and the
// results for programs on stdout (SPEC result lines, or JSON with --json).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "workload.hpp"

namespace weft_bench {

class output {
public:
    output(int threads, bool go_model, bool json, bool quiet, bool stderr_is_tty)
        : threads_(threads), go_model_(go_model), json_(json), quiet_(quiet), tty_(stderr_is_tty) {}

    // The name in result lines: "weft", or "weft_go" for Go's model at one
    // thread (asyncio's is weft's default there), so that bench/compare
    // shows both models at equal threads.
    const char* peer() const noexcept { return go_model_ && threads_ == 1 ? "weft_go" : "weft"; }

    // --list: every workload and whether it can run at this thread count
    // (`mode_missing` non-empty: the mode itself is not available yet).
    void print_list(std::span<const workload> all, const std::string& mode_missing) const;

    // A selected workload weft cannot run yet: noted on stderr, listed in JSON.
    void not_available(const workload& w);

    // Progress: `start` once, then `begin` and `done` or `failed` per workload.
    void start(std::size_t count);
    void begin(const workload& w, const sizes& s);
    void done(const workload& w, report r, double wall_s);
    void failed(const workload& w);

    // The table of what completed (stderr), then its results (stdout).
    void finish() const;

private:
    struct row {
        std::string bench;
        report r;
        double wall_s;
    };
    struct skipped {
        std::string bench;
        std::string reason;
    };
    void print_table() const;
    void print_spec_lines() const;
    void print_json() const;
    std::string mode() const;

    int threads_;
    bool go_model_;
    bool json_;
    bool quiet_;
    bool tty_;
    std::size_t count_ = 0;
    std::size_t index_ = 0;
    std::vector<row> rows_;
    std::vector<skipped> skipped_;
};

}  // namespace weft_bench
