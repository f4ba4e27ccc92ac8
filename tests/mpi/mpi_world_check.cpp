// Run under mpirun (or alone): every rank checks weft::mpi_init's contract,
// then the ranks agree on the world by a reduction. Rank 0 prints
//     size=N rank_sum=S thread_level=L
// and a failed check exits with 1 and says which.
#include <cstdio>
#include <stdexcept>
#include <string>

#include <mpi.h>

#include <weft/executors/mpi_world.hpp>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "mpi_world_check: FAILED: %s\n", what);
        ++failures;
    }
}

template <class F>
std::string logic_error_of(F&& f) {
    try {
        f();
    } catch (const std::logic_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    expect(logic_error_of([] { weft::mpi_current(); }).find("mpi_init") != std::string::npos,
           "mpi_current before mpi_init throws logic_error naming mpi_init");

    const weft::mpi_world& world = weft::mpi_init(argc, argv);
    expect(&weft::mpi_init(argc, argv) == &world, "a second mpi_init returns the same world");
    expect(&weft::mpi_current() == &world, "mpi_current returns the world mpi_init found");
    expect(world.size >= 1 && world.rank >= 0 && world.rank < world.size, "rank lies in [0, size)");

    int sum = 0;
    MPI_Allreduce(&world.rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    expect(sum == world.size * (world.size - 1) / 2, "the ranks are 0..size-1, each once");
    int agreed_size = 0;
    MPI_Allreduce(&world.size, &agreed_size, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    expect(agreed_size == world.size, "every rank sees the same size");

    int level = 0;
    MPI_Query_thread(&level);
    expect(
        (level >= MPI_THREAD_MULTIPLE) == (world.thread_level == weft::mpi_thread_level::multiple),
        "the recorded thread level is the one MPI granted");

    if (world.rank == 0) {
        std::printf("size=%d rank_sum=%d thread_level=%s\n", world.size, sum,
                    std::string(weft::to_string(world.thread_level)).c_str());
        std::fflush(stdout);
    }

    weft::mpi_finalize();
    weft::mpi_finalize();  // idempotent
    expect(
        logic_error_of([&] { weft::mpi_init(argc, argv); }).find("finalized") != std::string::npos,
        "mpi_init after mpi_finalize throws logic_error saying MPI was finalized");
    expect(logic_error_of([] { weft::mpi_current(); }).find("finalized") != std::string::npos,
           "mpi_current after mpi_finalize throws logic_error");
    return failures == 0 ? 0 : 1;
}
