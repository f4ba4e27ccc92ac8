// A CPU-bound map spread over the ranks of an MPI job: counting the primes
// below a limit, in chunks, each chunk a call that runs on whichever serving
// rank has room. The same binary is rank 0 (the program) and every serving
// rank; run alone, it counts in this process on the default thread pool.
//
//     mpirun -np 3 build/release/examples/mpi_map --threads 2     # 2 serving ranks
//     build/release/examples/mpi_map                               # alone
//
// Either way it prints the same total (total=148933 below 2,000,000), then
// how many chunks and primes each rank counted. With threads per rank, let
// each rank use more than one core: Open MPI binds a rank to one core when
// it starts two or fewer (mpirun --bind-to none, or --map-by slot:PE=2).
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include <weft/cli.hpp>
#include <weft/executors/mpi_executor.hpp>
#include <weft/weft.hpp>

// Primes in [lo, hi) by trial division: deliberately plain CPU work. Returns
// the count and the rank that counted.
std::pair<long, int> count_primes(long lo, long hi) {
    long n = 0;
    for (long x = lo < 2 ? 2 : lo; x < hi; ++x) {
        bool prime = x == 2 || x % 2 != 0;
        for (long d = 3; prime && d * d <= x; d += 2)
            prime = x % d != 0;
        n += prime;
    }
    return {n, weft::mpi_current().rank};
}

weft::task<void> main_task(weft::mpi_executor& cluster, long limit, int chunks) {
    std::vector<long> los, his;
    for (int i = 0; i < chunks; ++i) {
        los.push_back(limit * i / chunks);
        his.push_back(limit * (i + 1) / chunks);
    }
    long total = 0;
    std::map<int, std::pair<int, long>> per_rank;  // rank -> chunks, primes
    for (auto [n, rank] : co_await cluster.map(count_primes, los, his)) {
        total += n;
        per_rank[rank].first++;
        per_rank[rank].second += n;
    }
    std::printf("total=%ld\n", total);
    for (auto [rank, counted] : per_rank)
        std::printf("rank %d: %d chunks, %ld primes\n", rank, counted.first, counted.second);
}

int main(int argc, char** argv) {
    // Every rank starts MPI first (it may take its own arguments out of argv).
    const weft::mpi_world& world = weft::mpi_init(argc, argv);

    CLI::App app{"Count primes over the ranks of an MPI job (mpirun -np N mpi_map)"};
    int threads = 1;
    long limit = 2'000'000;
    int chunks = 32;
    weft::cli::add_threads(app, threads);
    app.add_option("--limit", limit, "count the primes below this")
        ->check(CLI::Range(2L, 1L << 40));
    app.add_option("--chunks", chunks, "calls to split the count into")
        ->check(CLI::Range(1, 1 << 20));
    weft::cli::parse(app, argc, argv);

    // The serving ranks run `threads` calls at once until rank 0 is done.
    if (world.rank != 0) return weft::mpi_serve({.threads = threads});

    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    try {
        weft::mpi_executor cluster;
        std::printf("%d serving rank(s), %d thread(s) each\n", cluster.serving_ranks(), threads);
        weft::run(main_task(cluster, limit, chunks), {.threads = threads});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mpi_map: %s\n", e.what());
        return 1;
    }
}
