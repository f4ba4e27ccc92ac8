// The log sink (weft/log.hpp).
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <weft/log.hpp>

namespace weft {

namespace {

// The sink, swapped whole under the mutex; a writer takes a reference and
// calls it outside, so a slow sink never holds up set_log_sink or another
// thread's message.
std::mutex g_mutex;
std::shared_ptr<const log_sink> g_sink;

void write_stderr(std::string_view message) noexcept {
    std::string line(message);
    line += '\n';
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

}  // namespace

log_sink set_log_sink(log_sink sink) {
    auto fresh = sink ? std::make_shared<const log_sink>(std::move(sink)) : nullptr;
    std::shared_ptr<const log_sink> old;
    {
        std::lock_guard lock(g_mutex);
        old = std::exchange(g_sink, std::move(fresh));
    }
    return old ? *old : log_sink();
}

void log(log_level level, std::string_view message) noexcept {
    std::shared_ptr<const log_sink> sink;
    {
        std::lock_guard lock(g_mutex);
        sink = g_sink;
    }
    try {
        if (sink) return (*sink)(level, message);
        write_stderr(message);
    } catch (...) {
        // A sink that throws (or a message too big to copy) loses the
        // message; the caller goes on.
    }
}

}  // namespace weft
