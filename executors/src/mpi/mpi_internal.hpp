// What the MPI executor's parts share: weft's own communicator, the message
// tags, a call's wire form, and how one copy of the program names code so
// that another copy (another process of the same build, loaded at other
// addresses) finds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <mpi.h>

#include <weft/executors/codec.hpp>
#include <weft/executors/mpi_world.hpp>
#include <weft/executors/remote_function.hpp>

namespace weft::detail {

// A duplicate of MPI_COMM_WORLD made by mpi_init, so that weft's messages
// never match a receive of the program's own. MPI_COMM_NULL outside
// mpi_init..mpi_finalize.
MPI_Comm mpi_comm() noexcept;

// Called by mpi_finalize, with MPI still running, before MPI_Finalize: rank 0
// stops its progress thread and tells the serving ranks to leave.
// Called with mpi_init's lock held: takes the world rather than asking.
void mpi_client_before_finalize(const mpi_world& world) noexcept;

// MPI counts a message's bytes in an int.
inline constexpr std::size_t max_message_bytes = 0x7fffffff;

// The message tags on mpi_comm().
enum mpi_tag : int {
    tag_hello = 1,   // serving rank -> 0: capacity and build check
    tag_call = 2,    // 0 -> rank: a call's header, then its argument bytes
    tag_cancel = 3,  // 0 -> rank: drop this call if it has not started
    tag_reply = 4,   // rank -> 0: a call's id, its status, then result bytes
    tag_stop = 5,    // 0 -> rank: leave mpi_serve
};

// A reply's status byte.
enum class reply_status : std::uint8_t {
    value = 0,      // the result's bytes follow
    exception = 1,  // an encoded exception follows (remote.hpp)
    dropped = 2,    // cancelled before it started: it never ran
};

// Where a piece of code lies, as any process running the same build can find
// it: its module (the path the dynamic loader knows it by; empty for the
// program itself) and its offset from the module's load address.
struct code_address {
    std::string module;
    std::uint64_t offset = 0;
};

// The module holding `address` in this process; false if none does.
bool to_code_address(std::uintptr_t address, code_address& out);
// The address of `where` in this process; 0 unless it lies in an executable
// segment of a loaded module.
std::uintptr_t from_code_address(const code_address& where);

// A call on the wire: header fields, then the argument bytes untouched.
struct call_header {
    std::uint64_t id = 0;
    bool named = false;
    std::string name;       // named
    code_address invoker;   // by address: the invoker...
    code_address function;  // ...and the function (empty module and 0: none)
    bool has_function = false;
};

// What to run, found in this process: the invoker and the function's address.
struct resolved_call {
    remote_invoker invoke = nullptr;
    std::uintptr_t fn = 0;
};
// Raises std::invalid_argument naming what this process lacks.
resolved_call resolve(const call_header& h);

// Runs a resolved call on `args` and appends its reply payload (the result's
// bytes, or the encoded exception) to `out`; returns value or exception.
reply_status run_call(const resolved_call& call, byte_reader& args, byte_writer& out) noexcept;

// An MPI error code as text.
std::string mpi_error_text(int code);

// Raises std::runtime_error naming `call` and MPI's error unless `code` is
// MPI_SUCCESS.
void mpi_check(int code, const char* call);

// Receives the next message from `source` (or MPI_ANY_SOURCE) on `comm`, of
// any tag and size, into `bytes`; false if none has arrived. Probes up to
// probes_per_poll times (progress.hpp says why).
bool receive_message(MPI_Comm comm, int source, std::string& bytes, MPI_Status& status);

}  // namespace weft::detail

// Codecs for the wire's own structures.
template <>
struct weft::codec<weft::detail::code_address> {
    static void encode(byte_writer& w, const detail::code_address& a) {
        w.put(a.module);
        w.put(a.offset);
    }
    static detail::code_address decode(byte_reader& r) {
        detail::code_address a;
        a.module = r.get<std::string>();
        a.offset = r.get<std::uint64_t>();
        return a;
    }
};

template <>
struct weft::codec<weft::detail::call_header> {
    static void encode(byte_writer& w, const detail::call_header& h) {
        w.put(h.id);
        w.put(h.named);
        if (h.named) {
            w.put(h.name);
        } else {
            w.put(h.invoker);
            w.put(h.has_function);
            if (h.has_function) w.put(h.function);
        }
    }
    static detail::call_header decode(byte_reader& r) {
        detail::call_header h;
        h.id = r.get<std::uint64_t>();
        h.named = r.get<bool>();
        if (h.named) {
            h.name = r.get<std::string>();
        } else {
            h.invoker = r.get<detail::code_address>();
            h.has_function = r.get<bool>();
            if (h.has_function) h.function = r.get<detail::code_address>();
        }
        return h;
    }
};
