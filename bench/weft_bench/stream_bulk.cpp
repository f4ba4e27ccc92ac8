// stream_bulk (not a SPEC workload): one stream moving N MiB one way over a
// connected socket pair, written M KiB at a time (awaiting drain() after
// each write, as a well-behaved sender does) and read 64 KiB at a time.
// Run it with --io uring and --io epoll to compare how the two backends
// carry a bulk transfer. Reports MB/s and the process's CPU time per MiB
// (utime + stime).
#include <cstdint>
#include <string>

#include <sys/resource.h>

#include <weft/io/socket.hpp>
#include <weft/io/stream.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

weft::task<void> send_all(weft::stream_writer& w, std::uint64_t total, std::size_t chunk) {
    std::string piece(chunk, 'b');
    for (std::uint64_t sent = 0; sent < total;) {
        std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, total - sent));
        // The position of the piece in its first bytes: the reader checks
        // that nothing was lost, doubled or reordered.
        std::string tag = std::to_string(sent) + ";";
        piece.replace(0, tag.size(), tag);
        w.write(std::string_view(piece).substr(0, k));
        co_await w.drain();
        piece.replace(0, tag.size(), std::string(tag.size(), 'b'));
        sent += k;
    }
    w.write_eof();
}

}  // namespace

weft::task<report> run_stream_bulk(sizes s) {
    const long mib = pick(s.n, 1000);
    const long chunk_kib = pick(s.m, 256);
    const std::uint64_t total = static_cast<std::uint64_t>(mib) << 20;
    const std::size_t chunk = static_cast<std::size_t>(chunk_kib) << 10;
    auto [a, b] = weft::socketpair();
    auto [ra, wa] = weft::open_stream(std::move(a));
    auto [rb, wb] = weft::open_stream(std::move(b));
    const double cpu0 = cpu_seconds();
    const auto t0 = bench_clock::now();
    auto sender = weft::create_task(send_all(wa, total, chunk));
    std::uint64_t got = 0;
    bool in_order = true;
    std::string carry;  // the start of a piece split between two reads
    for (;;) {
        std::string data = co_await rb.read(65536);
        if (data.empty()) break;
        // Check the tag at the start of every piece that begins in `data`.
        std::uint64_t next = (got + chunk - 1) / chunk * chunk;
        while (next < got + data.size()) {
            std::string tag = std::to_string(next) + ";";
            std::size_t at = static_cast<std::size_t>(next - got);
            std::string have = data.substr(at, tag.size());
            if (have.size() < tag.size()) break;  // split: trust the rest
            if (have != tag) in_order = false;
            next += chunk;
        }
        got += data.size();
    }
    co_await sender;
    const double secs = seconds_since(t0);
    const double cpu = cpu_seconds() - cpu0;
    wa.close();
    wb.close();
    co_await wa.wait_closed();
    co_await wb.wait_closed();
    check(got == total, "stream_bulk: received " + std::to_string(got) + " of " +
                            std::to_string(total) + " bytes");
    check(in_order, "stream_bulk: a piece arrived out of place");
    co_return report{std::to_string(mib) + "x" + std::to_string(chunk_kib),  // MiB x KiB
                     {{static_cast<double>(total) / 1e6 / secs, "MB/s"},
                      {cpu / static_cast<double>(mib) * 1e6, "cpu_us/MiB"}}};
}

}  // namespace weft_bench
