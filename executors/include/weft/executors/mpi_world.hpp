// weft::mpi_init: the one line a program that spreads work over MPI ranks
// calls first, before it starts any thread.
//
//     int main(int argc, char** argv) {
//         const weft::mpi_world& world = weft::mpi_init(argc, argv);
//         ...                       // world.rank, world.size, world.thread_level
//     }
//
// The same binary runs on every rank: `mpirun -np 3 prog` starts three copies,
// and each learns here which rank it is. Run without mpirun, MPI starts as a
// singleton: rank 0 of a world of 1, so the program still works on a laptop.
//
// MPI is asked for MPI_THREAD_MULTIPLE; what it grants is recorded, because
// it decides how a program may drive MPI from a threaded runtime (with less
// than `multiple`, only one thread at a time may call MPI at all).
//
// MPI is finalized at exit (or earlier by mpi_finalize()); it cannot be
// started again in the same process, and mpi_init then says so.
//
// Built only when CMake finds MPI (target weft::mpi_executor; see
// docs/scale-out.md).
#pragma once

#include <string_view>

namespace weft {

// MPI's thread support levels, in MPI's order (each allows more than the last).
enum class mpi_thread_level {
    single,      // one thread in the process
    funneled,    // many threads; only the one that initialised MPI calls it
    serialized,  // many threads call MPI, never two at once
    multiple,    // many threads call MPI at once
};

// "single", "funneled", "serialized" or "multiple".
std::string_view to_string(mpi_thread_level level) noexcept;

// The MPI job this process belongs to, as mpi_init found it.
struct mpi_world {
    int rank = 0;  // this process's rank in MPI_COMM_WORLD
    int size = 1;  // how many ranks MPI_COMM_WORLD has
    mpi_thread_level thread_level = mpi_thread_level::single;  // what MPI granted
};

// Starts MPI for this process (once: later calls return the same world).
// Throws std::logic_error after mpi_finalize(), and std::runtime_error,
// naming MPI's error, when MPI fails to start.
const mpi_world& mpi_init(int& argc, char**& argv);

// The world mpi_init found. Throws std::logic_error before mpi_init.
const mpi_world& mpi_current();

// Ends MPI early (it otherwise ends at exit). Every rank must call it, as
// MPI_Finalize is collective. Idempotent; does nothing before mpi_init.
void mpi_finalize();

}  // namespace weft
