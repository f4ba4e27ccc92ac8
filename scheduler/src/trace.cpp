// The scheduler trace (trace.hpp): per-thread buffers and the JSON writer.
#include "trace.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include <weft/event_loop.hpp>
#include <weft/log.hpp>

namespace weft::detail::trace {

namespace {

struct event {
    std::int64_t ts;
    std::int64_t dur;  // < 0: an instant marker
    std::string name;  // steps: the task's name
    const char* what;  // markers
    const char* a_name;
    std::int64_t a;
    const char* b_name;
    std::int64_t b;
};

// One per thread that recorded something. Kept after the thread ends, until
// the process does: the file is written at the end.
struct buffer {
    std::mutex mutex;  // this thread's appends against the writer
    int tid = 0;
    std::string name;
    std::vector<event> events;
};

struct registry {
    std::string path;
    std::int64_t origin = 0;  // ts 0 in the file
    std::mutex mutex;
    std::vector<std::unique_ptr<buffer>> buffers;
};

registry* make_registry() {
    const char* path = std::getenv("WEFT_TRACE");
    if (path == nullptr || *path == '\0') return nullptr;
    auto* r = new registry;  // never freed: threads may record until exit
    r->path = path;
    r->origin = event_loop::time_ns();
    std::atexit([] { flush(); });
    return r;
}

// Read once, before main (static initialization) or at the first use.
registry* const g_registry = make_registry();

thread_local buffer* tls_buffer = nullptr;

buffer& mine() {
    if (tls_buffer == nullptr) {
        auto b = std::make_unique<buffer>();
        std::lock_guard lock(g_registry->mutex);
        b->tid = static_cast<int>(g_registry->buffers.size()) + 1;
        b->name = "thread " + std::to_string(b->tid);
        tls_buffer = b.get();
        g_registry->buffers.push_back(std::move(b));
    }
    return *tls_buffer;
}

void put_escaped(std::FILE* f, const std::string& s) {
    std::fputc('"', f);
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            std::fputc('\\', f);
            std::fputc(c, f);
        } else if (c < 0x20) {
            std::fprintf(f, "\\u%04x", c);
        } else {
            std::fputc(c, f);
        }
    }
    std::fputc('"', f);
}

void put_us(std::FILE* f, std::int64_t ns) {
    std::fprintf(f, "%lld.%03lld", static_cast<long long>(ns / 1000),
                 static_cast<long long>(ns % 1000));
}

}  // namespace

const bool g_enabled = g_registry != nullptr;  // declared extern in trace.hpp

void slice(std::int64_t begin_ns, std::int64_t end_ns, std::string name, unsigned loop) {
    buffer& b = mine();
    std::lock_guard lock(b.mutex);
    b.events.push_back(
        event{begin_ns, end_ns - begin_ns, std::move(name), nullptr, "loop", loop, nullptr, -1});
}

void instant(const char* what, const char* a_name, std::int64_t a, const char* b_name,
             std::int64_t b) {
    std::int64_t now = event_loop::time_ns();
    buffer& buf = mine();
    std::lock_guard lock(buf.mutex);
    buf.events.push_back(event{now, -1, {}, what, a_name, a, b_name, b});
}

void name_this_thread(std::string name) {
    buffer& b = mine();
    std::lock_guard lock(b.mutex);
    b.name = std::move(name);
}

void flush() noexcept {
    if (g_registry == nullptr) return;
    registry& r = *g_registry;
    std::lock_guard lock(r.mutex);
    std::FILE* f = std::fopen(r.path.c_str(), "w");
    if (f == nullptr) {
        weft::log(weft::log_level::warning, "weft: WEFT_TRACE: cannot write " + r.path);
        return;
    }
    std::fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", f);
    std::fputs("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"weft\"}}",
               f);
    for (const auto& b : r.buffers) {
        std::lock_guard block(b->mutex);
        std::fprintf(
            f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":",
            b->tid);
        put_escaped(f, b->name);
        std::fputs("}}", f);
        // Lanes in creation order: workers first, as they start first.
        std::fprintf(f,
                     ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,"
                     "\"args\":{\"sort_index\":%d}}",
                     b->tid, b->tid);
        for (const event& e : b->events) {
            std::fputs(",\n{\"name\":", f);
            if (e.dur >= 0) {
                put_escaped(f, e.name);
                std::fputs(",\"cat\":\"step\",\"ph\":\"X\",\"ts\":", f);
                put_us(f, e.ts - r.origin);
                std::fputs(",\"dur\":", f);
                put_us(f, e.dur);
            } else {
                put_escaped(f, e.what);
                std::fputs(",\"cat\":\"scheduler\",\"ph\":\"i\",\"s\":\"t\",\"ts\":", f);
                put_us(f, e.ts - r.origin);
            }
            std::fprintf(f, ",\"pid\":1,\"tid\":%d,\"args\":{", b->tid);
            bool comma = false;
            if (e.a_name != nullptr && e.a >= 0) {
                std::fprintf(f, "\"%s\":%lld", e.a_name, static_cast<long long>(e.a));
                comma = true;
            }
            if (e.b_name != nullptr && e.b >= 0) {
                std::fprintf(f, "%s\"%s\":%lld", comma ? "," : "", e.b_name,
                             static_cast<long long>(e.b));
            }
            std::fputs("}}", f);
        }
    }
    std::fputs("\n]}\n", f);
    if (std::fclose(f) != 0)
        weft::log(weft::log_level::warning, "weft: WEFT_TRACE: error writing " + r.path);
}

}  // namespace weft::detail::trace
