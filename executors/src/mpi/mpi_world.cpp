// weft::mpi_init and friends: MPI's start and end, once per process.
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#include <mpi.h>

#include <weft/executors/mpi_world.hpp>

#include "mpi_internal.hpp"

namespace weft {
namespace {

enum class phase { before, running, after };

// The state is behind a mutex although mpi_init is meant to run before any
// thread starts: a program that gets this wrong should get the documented
// answer, not a data race.
std::mutex state_mutex;
phase state = phase::before;
mpi_world world;
// Whether weft started MPI, and so must end it (a program that called
// MPI_Init itself ends MPI itself).
bool owns_mpi = false;
// weft's own communicator (detail::mpi_comm).
MPI_Comm weft_comm = MPI_COMM_NULL;

}  // namespace

namespace detail {

MPI_Comm mpi_comm() noexcept {
    return weft_comm;
}

std::string mpi_error_text(int code) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
        return "MPI error " + std::to_string(code);
    }
    return std::string(text, static_cast<std::size_t>(length));
}

}  // namespace detail

namespace {

using detail::mpi_error_text;

mpi_thread_level from_mpi(int level) {
    if (level >= MPI_THREAD_MULTIPLE) {
        return mpi_thread_level::multiple;
    }
    if (level >= MPI_THREAD_SERIALIZED) {
        return mpi_thread_level::serialized;
    }
    if (level >= MPI_THREAD_FUNNELED) {
        return mpi_thread_level::funneled;
    }
    return mpi_thread_level::single;
}

void check(int code, const char* call) {
    if (code != MPI_SUCCESS) {
        throw std::runtime_error(std::string("weft::mpi_init: ") + call +
                                 " failed: " + mpi_error_text(code));
    }
}

void finalize_at_exit() {
    mpi_finalize();
}

}  // namespace

std::string_view to_string(mpi_thread_level level) noexcept {
    switch (level) {
        case mpi_thread_level::single:
            return "single";
        case mpi_thread_level::funneled:
            return "funneled";
        case mpi_thread_level::serialized:
            return "serialized";
        case mpi_thread_level::multiple:
            return "multiple";
    }
    return "unknown";
}

const mpi_world& mpi_init(int& argc, char**& argv) {
    std::lock_guard lock(state_mutex);
    if (state == phase::running) {
        return world;
    }
    if (state == phase::after) {
        throw std::logic_error(
            "weft::mpi_init: MPI was already finalized in this process, and MPI cannot be "
            "started twice");
    }
    int already = 0;
    check(MPI_Initialized(&already), "MPI_Initialized");
    int granted = MPI_THREAD_SINGLE;
    if (already != 0) {
        // The program started MPI itself: take the world as it is.
        check(MPI_Query_thread(&granted), "MPI_Query_thread");
    } else {
        check(MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &granted), "MPI_Init_thread");
        owns_mpi = true;
    }
    mpi_world found;
    check(MPI_Comm_rank(MPI_COMM_WORLD, &found.rank), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &found.size), "MPI_Comm_size");
    found.thread_level = from_mpi(granted);
    // Collective: every rank calls mpi_init, so every rank makes it here.
    check(MPI_Comm_dup(MPI_COMM_WORLD, &weft_comm), "MPI_Comm_dup");
    world = found;
    state = phase::running;
    if (owns_mpi) {
        // Open MPI reports a rank that exits without MPI_Finalize as a failed
        // job; ending MPI at exit spares every program that line.
        static const bool registered = (std::atexit(finalize_at_exit), true);
        (void)registered;
    }
    return world;
}

const mpi_world& mpi_current() {
    std::lock_guard lock(state_mutex);
    if (state != phase::running) {
        throw std::logic_error(state == phase::before
                                   ? "weft::mpi_current: call weft::mpi_init(argc, argv) first"
                                   : "weft::mpi_current: MPI was already finalized");
    }
    return world;
}

void mpi_finalize() {
    std::lock_guard lock(state_mutex);
    if (state != phase::running) {
        return;
    }
    // Rank 0's executors finish their calls and the serving ranks leave
    // mpi_serve, while MPI still runs.
    detail::mpi_client_before_finalize(world);
    // Every rank frees it here, as every rank made it in mpi_init.
    if (weft_comm != MPI_COMM_NULL) MPI_Comm_free(&weft_comm);
    state = phase::after;
    if (owns_mpi) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (finalized == 0) {
            MPI_Finalize();
        }
    }
}

}  // namespace weft
