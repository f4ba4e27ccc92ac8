// weft-bench's output; see output.hpp.
#include "output.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

namespace weft_bench {

namespace {

// SPEC's n= field for a workload that has not run yet (progress lines).
std::string size_label(const workload& w, const sizes& s) {
    std::string n = std::to_string(pick(s.n, w.default_n));
    if (w.default_m != 0) n += "x" + std::to_string(pick(s.m, w.default_m));
    return n;
}

// A number for people: about four significant digits, never in e-notation.
std::string human(double v) {
    char buf[64];
    double a = v < 0 ? -v : v;
    int decimals = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : 3;
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

}  // namespace

std::string output::mode() const {
    if (!go_model_) return "asyncio mode, one thread";
    return "Go mode, " + std::to_string(threads_) + " worker thread" + (threads_ == 1 ? "" : "s");
}

void output::print_list(std::span<const workload> all, const std::string& mode_missing) const {
    if (json_) {
        std::printf("{\"peer\": \"%s\", \"threads\": %d, \"workloads\": [", peer(), threads_);
        bool first = true;
        for (const workload& w : all) {
            bool ok = w.available() && mode_missing.empty();
            std::string why = !mode_missing.empty() ? mode_missing : std::string(w.missing);
            std::printf("%s\n  {\"bench\": %s, \"available\": %s, \"in_all\": %s, \"summary\": %s",
                        first ? "" : ",", json_string(std::string(w.name)).c_str(),
                        ok ? "true" : "false", w.in_all ? "true" : "false",
                        json_string(std::string(w.summary)).c_str());
            if (!ok) std::printf(", \"missing\": %s", json_string(why).c_str());
            std::printf("}");
            first = false;
        }
        std::printf("\n]}\n");
        return;
    }
    // One workload per line: name, status (available | not-yet), then prose.
    for (const workload& w : all) {
        bool ok = w.available() && mode_missing.empty();
        std::string text = ok ? std::string(w.summary)
                           : !mode_missing.empty()
                               ? "threads=" + std::to_string(threads_) + ": " + mode_missing
                               : std::string(w.missing);
        std::printf("%-13s %-9s %s\n", std::string(w.name).c_str(), ok ? "available" : "not-yet",
                    text.c_str());
    }
}

void output::not_available(const workload& w) {
    skipped_.push_back({std::string(w.name), std::string(w.missing)});
    // Printed even with --quiet: a skipped workload must never go unnoticed.
    std::fprintf(stderr, "weft-bench: %s: not available yet (%s); skipped\n",
                 std::string(w.name).c_str(), std::string(w.missing).c_str());
}

void output::start(std::size_t count) {
    count_ = count;
    if (quiet_ || count == 0) return;
    std::fprintf(stderr, "weft-bench: threads=%d (%s): %zu workload%s\n", threads_, mode().c_str(),
                 count, count == 1 ? "" : "s");
}

void output::begin(const workload& w, const sizes& s) {
    ++index_;
    if (quiet_) return;
    std::fprintf(stderr, "  [%zu/%zu] %-12s n=%-10s ... ", index_, count_,
                 std::string(w.name).c_str(), size_label(w, s).c_str());
    std::fflush(stderr);
}

void output::done(const workload& w, report r, double wall_s) {
    if (!quiet_) std::fprintf(stderr, "%.2f s\n", wall_s);
    rows_.push_back({std::string(w.name), std::move(r), wall_s});
}

void output::failed(const workload&) {
    if (!quiet_) std::fprintf(stderr, "FAILED\n");
}

void output::finish() const {
    if (!quiet_) print_table();
    if (json_) {
        print_json();
    } else {
        print_spec_lines();
    }
    std::fflush(stdout);
}

void output::print_table() const {
    if (rows_.empty()) return;
    std::vector<std::string> results;
    std::size_t width = 6;
    int name_w = 13;  // the bench column, wide enough for memory_release
    for (const row& r : rows_) {
        name_w = std::max(name_w, static_cast<int>(r.bench.size()) + 2);
        std::string s;
        for (const measurement& m : r.r.results) {
            s += (s.empty() ? "" : "   ") + human(m.value) + " " + m.unit;
        }
        width = std::max(width, s.size());
        results.push_back(std::move(s));
    }
    const char* rule = tty_ ? "\u2500" : "-";
    std::string line;
    for (std::size_t i = 0; i < static_cast<std::size_t>(name_w) + width + 2 + 12 + 8; ++i)
        line += rule;
    std::fprintf(stderr, "\nweft-bench results, threads=%d (%s)\n%s\n", threads_, mode().c_str(),
                 line.c_str());
    std::fprintf(stderr, "%-*s%-*s  %-12s%8s\n", name_w, "bench", static_cast<int>(width), "result",
                 "n", "time");
    for (std::size_t i = 0; i < rows_.size(); ++i) {
        std::fprintf(stderr, "%-*s%-*s  %-12s%6.2f s\n", name_w, rows_[i].bench.c_str(),
                     static_cast<int>(width), results[i].c_str(), rows_[i].r.n.c_str(),
                     rows_[i].wall_s);
    }
    std::fprintf(stderr, "%s\n", line.c_str());
}

void output::print_spec_lines() const {
    for (const row& r : rows_) {
        for (const measurement& m : r.r.results) {
            std::printf("peer=%s bench=%s threads=%d value=%.3f unit=%s n=%s\n", peer(),
                        r.bench.c_str(), threads_, m.value, m.unit.c_str(), r.r.n.c_str());
        }
    }
}

void output::print_json() const {
    std::printf("{\"peer\": \"%s\", \"threads\": %d, \"results\": [", peer(), threads_);
    bool first = true;
    for (const row& r : rows_) {
        for (const measurement& m : r.r.results) {
            std::printf(
                "%s\n  {\"bench\": %s, \"value\": %.3f, \"unit\": %s, \"n\": %s, "
                "\"wall_s\": %.6f}",
                first ? "" : ",", json_string(r.bench).c_str(), m.value,
                json_string(m.unit).c_str(), json_string(r.r.n).c_str(), r.wall_s);
            first = false;
        }
    }
    std::printf("\n], \"not_available\": [");
    first = true;
    for (const skipped& s : skipped_) {
        std::printf("%s\n  {\"bench\": %s, \"missing\": %s}", first ? "" : ",",
                    json_string(s.bench).c_str(), json_string(s.reason).c_str());
        first = false;
    }
    std::printf("\n]}\n");
}

}  // namespace weft_bench
