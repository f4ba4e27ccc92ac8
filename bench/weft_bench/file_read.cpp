// file_read (not a SPEC workload: no peer has asynchronous files): N random
// 4 KiB reads of a 256 MiB file, M in flight, through weft::file. Run it
// with --io uring (each read a request in the loop's ring) and --io epoll
// (each read a pread(2) on a blocking thread) to compare the two paths.
// The file is made in $TMPDIR (else /tmp) and removed after; it sits in the
// page cache, so what is measured is the cost of the path, not the disk.
// Reports MB/s and the process's CPU time per read (utime + stime).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <weft/io/file.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

#include "workload.hpp"

namespace weft_bench {

namespace {

constexpr std::size_t block = 4096;
constexpr std::uint64_t file_size = 256ull << 20;

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Block i of the file starts with its index: each read checks what it got.
std::string block_bytes(std::uint64_t i) {
    std::string b(block, static_cast<char>('a' + i % 26));
    std::string tag = std::to_string(i) + ";";
    b.replace(0, tag.size(), tag);
    return b;
}

weft::task<long> reader(weft::file& f, long reads, std::uint64_t seed) {
    const std::uint64_t blocks = file_size / block;
    std::uint64_t x = seed * 2654435761u + 1;
    long bad = 0;
    for (long i = 0; i < reads; ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        std::uint64_t b = (x >> 17) % blocks;
        std::string got = co_await f.pread(block, b * block);
        if (got.size() != block || got.compare(0, std::to_string(b).size(), std::to_string(b)))
            ++bad;
    }
    co_return bad;
}

}  // namespace

weft::task<report> run_file_read(sizes s) {
    const long n = pick(s.n, 100'000);
    const long in_flight = pick(s.m, 64);
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/weft_bench_file_read." +
                       std::to_string(::getpid());
    {
        weft::file w = co_await weft::file::open(path, "w");
        std::string chunk;
        for (std::uint64_t i = 0; i < file_size / block; ++i) {
            chunk += block_bytes(i);
            if (chunk.size() >= (1u << 20)) {
                co_await w.write(chunk);
                chunk.clear();
            }
        }
        co_await w.close();
    }
    weft::file f = co_await weft::file::open(path);
    const double cpu0 = cpu_seconds();
    const auto t0 = bench_clock::now();
    std::vector<weft::task_handle<long>> readers;
    for (long r = 0; r < in_flight; ++r) {
        long share = n / in_flight + (r < n % in_flight ? 1 : 0);
        readers.push_back(weft::create_task(reader(f, share, static_cast<std::uint64_t>(r))));
    }
    long bad = 0;
    for (auto& r : readers)
        bad += co_await r;
    const double secs = seconds_since(t0);
    const double cpu = cpu_seconds() - cpu0;
    co_await f.close();
    ::unlink(path.c_str());
    check(bad == 0, "file_read: " + std::to_string(bad) + " reads returned the wrong block");
    // The path (uring or thread) follows --io; n is reads x in flight.
    co_return report{std::to_string(n) + "x" + std::to_string(in_flight),
                     {{static_cast<double>(n) * block / 1e6 / secs, "MB/s"},
                      {cpu / static_cast<double>(n) * 1e6, "cpu_us/read"}}};
}

}  // namespace weft_bench
