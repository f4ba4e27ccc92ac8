// weft-mpi-bench: what a call to another rank costs, and how a CPU-bound map
// scales over ranks, each beside the process pool measured in the same run.
// Prints SPEC result lines (bench/peers/SPEC.md), one per measurement:
//
//     mpirun -np 2 weft-mpi-bench --bench rtt           # mpi_rtt, process_rtt
//     mpirun -np 3 weft-mpi-bench --bench map --threads 1
//
// rtt: K sequential trivial calls from a task, us per round trip, to the
// other rank (mpi_rtt) and to a process pool of one worker (process_rtt),
// after MPI's own blocking ping-pong between the two ranks (peer=mpi_raw).
// map: the primes below --limit counted in 4 x workers chunks, where the
// workers are the serving ranks x --threads (mpi_map), and then by a
// process pool of as many workers (process_map); seconds of wall time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <mpi.h>

#include <weft/cli.hpp>
#include <weft/executors/mpi_executor.hpp>
#include <weft/weft.hpp>

namespace {

long plus_one(long x) {
    return x + 1;
}

long count_primes(long lo, long hi) {
    long n = 0;
    for (long x = lo < 2 ? 2 : lo; x < hi; ++x) {
        bool prime = x == 2 || x % 2 != 0;
        for (long d = 3; prime && d * d <= x; d += 2)
            prime = x % d != 0;
        n += prime;
    }
    return n;
}

using bench_clock = std::chrono::steady_clock;

double seconds_since(bench_clock::time_point t0) {
    return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

void line(const char* bench, int threads, double value, const char* unit, long n) {
    std::printf("peer=weft bench=%s threads=%d value=%.3f unit=%s n=%ld\n", bench, threads, value,
                unit, n);
}

template <class Executor>
weft::task<double> rtt(Executor& ex, long k) {
    co_await weft::run_in_executor(ex, plus_one, 0L);  // warm: a worker, a connection
    long sum = 0;
    auto t0 = bench_clock::now();
    for (long i = 0; i < k; ++i)
        sum += co_await weft::run_in_executor(ex, plus_one, i);
    double wall = seconds_since(t0);
    if (sum != k * (k + 1) / 2) throw std::runtime_error("rtt: wrong sum");
    co_return wall * 1e6 / static_cast<double>(k);
}

// Seconds for the map, and the total it found.
template <class Executor>
weft::task<std::pair<double, long>> map_seconds(Executor& ex, long limit, int chunks) {
    std::vector<long> los, his;
    for (int i = 0; i < chunks; ++i) {
        los.push_back(limit * i / chunks);
        his.push_back(limit * (i + 1) / chunks);
    }
    auto t0 = bench_clock::now();
    long total = 0;
    for (long n : co_await ex.map(count_primes, los, his))
        total += n;
    co_return std::pair{seconds_since(t0), total};
}

}  // namespace

int main(int argc, char** argv) {
    const weft::mpi_world& world = weft::mpi_init(argc, argv);
    CLI::App app{"MPI executor benchmarks (run under mpirun)"};
    int threads = 1;
    std::string bench = "rtt";
    long n = 20'000;
    long limit = 4'000'000;
    weft::cli::add_threads(app, threads);
    app.add_option("--bench", bench, "rtt or map")->check(CLI::IsMember({"rtt", "map"}));
    app.add_option("--n", n, "rtt: round trips")->check(CLI::PositiveNumber);
    app.add_option("--limit", limit, "map: count primes below this")->check(CLI::PositiveNumber);
    weft::cli::parse(app, argc, argv);

    // rtt's floor, measured first: MPI's own blocking ping-pong of 8 bytes
    // between ranks 0 and 1 on the same transport (peer=mpi_raw), which
    // spins in MPI_Recv rather than sleeping between polls.
    if (bench == "rtt" && world.size > 1 && world.rank < 2) {
        long x = 0;
        auto t0 = bench_clock::now();
        for (long i = 0; i < n; ++i) {
            if (world.rank == 0) {
                MPI_Send(&x, 1, MPI_LONG, 1, 0, MPI_COMM_WORLD);
                MPI_Recv(&x, 1, MPI_LONG, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else {
                MPI_Recv(&x, 1, MPI_LONG, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                ++x;
                MPI_Send(&x, 1, MPI_LONG, 0, 0, MPI_COMM_WORLD);
            }
        }
        if (world.rank == 0) {
            std::printf("peer=mpi_raw bench=mpi_rtt threads=1 value=%.3f unit=us/rtt n=%ld\n",
                        seconds_since(t0) * 1e6 / static_cast<double>(n), n);
        }
    }
    if (world.rank != 0) return weft::mpi_serve({.threads = threads});
    try {
        weft::mpi_executor cluster;
        if (bench == "rtt") {
            line("mpi_rtt", 1, weft::run(rtt(cluster, n)), "us/rtt", n);
            weft::process_pool_executor pool(1);
            line("process_rtt", 1, weft::run(rtt(pool, n)), "us/rtt", n);
        } else {
            if (cluster.serving_ranks() == 0) {
                std::fprintf(stderr,
                             "weft-mpi-bench: --bench map needs serving ranks: run it "
                             "under mpirun -np 2 or more\n");
                return 2;
            }
            int workers = std::max(1, cluster.serving_ranks()) * threads;
            int chunks = 4 * workers;
            auto [mpi_s, mpi_total] = weft::run(map_seconds(cluster, limit, chunks));
            weft::process_pool_executor pool(workers);
            auto [pool_s, pool_total] = weft::run(map_seconds(pool, limit, chunks));
            if (mpi_total != pool_total) {
                std::fprintf(stderr,
                             "weft-mpi-bench: map totals differ: %ld over MPI, %ld in the pool\n",
                             mpi_total, pool_total);
                return 1;
            }
            line("mpi_map", workers, mpi_s, "s", limit);
            line("process_map", workers, pool_s, "s", limit);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "weft-mpi-bench: %s\n", e.what());
        return 1;
    }
}
