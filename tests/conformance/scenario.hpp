// Helpers for the ports of tests/conformance/asyncio: print exactly what the
// Python scenarios print (True/False, lists, times rounded to 0.1 s).
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <weft/weft.hpp>

namespace scenario {

inline const char* py(bool b) {
    return b ? "True" : "False";
}

// `round(loop.time() - start, 1)` as Python prints it.
class stopwatch {
public:
    stopwatch() : start_(weft::get_running_loop().time()) {}
    explicit stopwatch(double start) : start_(start) {}
    std::string now() const {
        char buf[32];
        double t = std::round((weft::get_running_loop().time() - start_) * 10) / 10;
        std::snprintf(buf, sizeof buf, "%.1f", t + 0.0);
        return buf;
    }
    double start() const { return start_; }

private:
    double start_;
};

inline std::string py_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += "'" + items[i] + "'";
    }
    return out + "]";
}

inline std::string py_list(const std::vector<int>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += std::to_string(items[i]);
    }
    return out + "]";
}

// Line-buffered stdout so that a crash still shows the trace so far.
inline void line_buffered() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
}

}  // namespace scenario
