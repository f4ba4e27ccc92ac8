// A call's code across processes: naming it here (module and offset), finding
// it there, and running it; and receiving a message, as both sides do.
#include <cstring>
#include <stdexcept>
#include <string>

#include <link.h>

#include <weft/executors/remote_function.hpp>

#include "../remote.hpp"
#include "mpi_internal.hpp"
#include "progress.hpp"

namespace weft::detail {

namespace {

// One pass over the loaded modules (dl_iterate_phdr), looking for either the
// module holding an address or a module by name.
struct module_search {
    std::uintptr_t address = 0;         // find the module holding it...
    const std::string* name = nullptr;  // ...or the module with this name
    std::uint64_t offset = 0;           // with name: must lie in executable code
    bool found = false;
    code_address where;           // address search: the answer
    std::uintptr_t resolved = 0;  // name search: the answer
};

bool executable_load(const ElfW(Phdr) & ph) {
    return ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0;
}

int visit(dl_phdr_info* info, size_t, void* data) {
    auto* s = static_cast<module_search*>(data);
    const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
    if (s->name != nullptr && *s->name != name) return 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (!executable_load(ph)) continue;
        std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
        std::uintptr_t hi = lo + ph.p_memsz;
        if (s->name == nullptr) {
            if (s->address >= lo && s->address < hi) {
                s->where.module = name;
                s->where.offset = s->address - info->dlpi_addr;
                s->found = true;
                return 1;
            }
        } else {
            std::uintptr_t at = info->dlpi_addr + s->offset;
            if (at >= lo && at < hi) {
                s->resolved = at;
                s->found = true;
                return 1;
            }
        }
    }
    // A name matches one module only: stop looking when it was this one.
    return s->name != nullptr ? 1 : 0;
}

}  // namespace

bool to_code_address(std::uintptr_t address, code_address& out) {
    module_search s;
    s.address = address;
    dl_iterate_phdr(&visit, &s);
    if (s.found) out = std::move(s.where);
    return s.found;
}

std::uintptr_t from_code_address(const code_address& where) {
    module_search s;
    s.name = &where.module;
    s.offset = where.offset;
    dl_iterate_phdr(&visit, &s);
    return s.found ? s.resolved : 0;
}

resolved_call resolve(const call_header& h) {
    resolved_call out;
    if (h.named) {
        const function_entry* e = find_function(h.name, nullptr);
        if (e == nullptr) {
            throw std::invalid_argument("weft::mpi_executor: no function is registered as '" +
                                        h.name + "' on this rank");
        }
        out.invoke = e->invoke;
        out.fn = e->fn;
        return out;
    }
    auto where = [](const code_address& a) {
        return (a.module.empty() ? std::string("the program") : "'" + a.module + "'") +
               " at offset " + std::to_string(a.offset);
    };
    std::uintptr_t invoker = from_code_address(h.invoker);
    if (invoker == 0) {
        throw std::invalid_argument("weft::mpi_executor: no code of this rank's build lies in " +
                                    where(h.invoker) + " (every rank must run the same build)");
    }
    out.invoke = reinterpret_cast<remote_invoker>(invoker);
    if (h.has_function) {
        out.fn = from_code_address(h.function);
        if (out.fn == 0) {
            throw std::invalid_argument(
                "weft::mpi_executor: no code of this rank's build lies in " + where(h.function) +
                " (every rank must run the same build)");
        }
    }
    return out;
}

reply_status run_call(const resolved_call& call, byte_reader& args, byte_writer& out) noexcept {
    std::size_t start = out.bytes().size();
    try {
        call.invoke(call.fn, args, out);
        return reply_status::value;
    } catch (...) {
        out.bytes().resize(start);
        try {
            encode_current_exception(out);
        } catch (...) {
            // Out of memory while encoding it: say only that.
            out.bytes().resize(start);
            out.put(std::string(typeid(std::bad_alloc).name()));
            out.put(std::string("std::bad_alloc"));
            out.put(std::string());
        }
        return reply_status::exception;
    }
}

void mpi_check(int code, const char* call) {
    if (code != MPI_SUCCESS) {
        throw std::runtime_error(std::string("weft: ") + call + " failed: " + mpi_error_text(code));
    }
}

bool receive_message(MPI_Comm comm, int source, std::string& bytes, MPI_Status& status) {
    int flag = 0;
    MPI_Message msg;
    for (int i = 0; i < probes_per_poll && flag == 0; ++i)
        mpi_check(MPI_Improbe(source, MPI_ANY_TAG, comm, &flag, &msg, &status), "MPI_Improbe");
    if (flag == 0) return false;
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    bytes.assign(static_cast<std::size_t>(count), '\0');
    mpi_check(MPI_Mrecv(bytes.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv");
    return true;
}

}  // namespace weft::detail
