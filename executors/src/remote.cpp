// What both sides of a process pool share: the table of named functions, and
// exceptions turned into bytes (in the worker) and back (in the pool).
#include "remote.hpp"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <unordered_map>

#include <cxxabi.h>
#include <dlfcn.h>

#include <weft/errors.hpp>
#include <weft/executors/codec.hpp>
#include <weft/executors/detail/remote_call.hpp>
#include <weft/executors/errors.hpp>
#include <weft/executors/remote_function.hpp>

namespace weft::detail {

// ---- named functions

namespace {

// Append-only, read without a lock: a worker, forked while another thread of
// the pool's process might have held any lock, must be able to look names up.
constexpr std::uint32_t max_functions = 4096;

struct function_table {
    std::mutex add_lock;
    std::array<std::atomic<const function_entry*>, max_functions> entries{};
    std::atomic<std::uint32_t> count{0};
};

function_table& functions() {
    static auto* t = new function_table;  // never destroyed: workers outlive nothing
    return *t;
}

}  // namespace

std::string type_name(const std::type_info& t) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> out(
        abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free);
    return status == 0 && out ? std::string(out.get()) : std::string(t.name());
}

std::uint32_t add_function(function_entry e) {
    if (e.name.empty()) {
        throw std::invalid_argument("weft::register_function: the name must not be empty");
    }
    function_table& t = functions();
    std::lock_guard lock(t.add_lock);
    std::uint32_t n = t.count.load(std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < n; ++i) {
        const function_entry* old = t.entries[i].load(std::memory_order_relaxed);
        if (old->name != e.name) continue;
        if (old->fn == e.fn && *old->signature == *e.signature) return i;  // the same again
        throw std::invalid_argument("weft::register_function: the name '" + e.name +
                                    "' is taken by another function");
    }
    if (n == max_functions) {
        throw std::length_error("weft::register_function: more than " +
                                std::to_string(max_functions) + " functions");
    }
    // release (both): a reader that sees the count sees the entry, whole.
    t.entries[n].store(new function_entry(std::move(e)), std::memory_order_release);
    t.count.store(n + 1, std::memory_order_release);
    return n;
}

const function_entry* function_at(std::uint32_t index) noexcept {
    function_table& t = functions();
    // acquire: pairs with add_function's release stores.
    if (index >= t.count.load(std::memory_order_acquire)) return nullptr;
    return t.entries[index].load(std::memory_order_acquire);
}

const function_entry* find_function(const std::string& name, std::uint32_t* index) noexcept {
    function_table& t = functions();
    std::uint32_t n = t.count.load(std::memory_order_acquire);
    for (std::uint32_t i = 0; i < n; ++i) {
        const function_entry* e = t.entries[i].load(std::memory_order_acquire);
        if (e->name == name) {
            if (index != nullptr) *index = i;
            return e;
        }
    }
    return nullptr;
}

std::uint32_t function_count() noexcept {
    return functions().count.load(std::memory_order_acquire);
}

// ---- naming a call

std::string label_of(const remote_call& c) {
    if (!c.label.empty()) return c.label;
    // A plain function: its symbol when the dynamic symbol table has it
    // (shared libraries, or programs linked with -rdynamic), else its address.
    Dl_info info{};
    if (::dladdr(reinterpret_cast<void*>(c.b), &info) != 0 && info.dli_sname != nullptr &&
        info.dli_saddr == reinterpret_cast<void*>(c.b)) {
        int status = 0;
        std::unique_ptr<char, void (*)(void*)> out(
            abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status), std::free);
        return "'" + std::string(status == 0 && out ? out.get() : info.dli_sname) + "'";
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "the function at %#lx", static_cast<unsigned long>(c.b));
    return buf;
}

std::uint32_t resolve_name(const std::string& name, const std::type_info& sig) {
    std::uint32_t index = 0;
    const function_entry* e = find_function(name, &index);
    if (e == nullptr) {
        throw std::invalid_argument("weft: no function is registered as '" + name +
                                    "' (weft::register_function)");
    }
    if (*e->signature != sig) {
        throw std::invalid_argument("weft: '" + name + "' is " + type_name(*e->signature) +
                                    ", called as " + type_name(sig));
    }
    return index;
}

// ---- exceptions across processes

void encode_current_exception(byte_writer& w) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    std::string mangled = type ? type->name() : "";
    std::string readable = type ? type_name(*type) : "unknown exception";
    std::string message;
    try {
        throw;
    } catch (const std::exception& e) {
        message = e.what();
    } catch (const cancelled_error& e) {
        message = e.message();
    } catch (...) {
    }
    w.put(mangled);
    w.put(readable);
    w.put(message);
}

namespace {

using exception_factory = std::exception_ptr (*)(const std::string& message);

struct exception_table {
    std::mutex m;
    std::unordered_map<std::string, exception_factory> by_mangled_name;
};

template <class E>
void add_known(exception_table& t) {
    t.by_mangled_name.emplace(typeid(E).name(), [](const std::string& message) {
        return std::make_exception_ptr(E(message));
    });
}

exception_table& exceptions() {
    static auto* t = [] {
        auto* table = new exception_table;
        add_known<std::logic_error>(*table);
        add_known<std::invalid_argument>(*table);
        add_known<std::domain_error>(*table);
        add_known<std::length_error>(*table);
        add_known<std::out_of_range>(*table);
        add_known<std::runtime_error>(*table);
        add_known<std::range_error>(*table);
        add_known<std::overflow_error>(*table);
        add_known<std::underflow_error>(*table);
        add_known<weft::invalid_state_error>(*table);
        add_known<weft::timeout_error>(*table);
        add_known<weft::codec_error>(*table);
        add_known<weft::executor_shutdown_error>(*table);
        add_known<weft::cancelled_error>(*table);
        table->by_mangled_name.emplace(typeid(std::bad_alloc).name(), [](const std::string&) {
            return std::make_exception_ptr(std::bad_alloc());
        });
        return table;
    }();
    return *t;
}

}  // namespace

std::exception_ptr decode_exception(byte_reader& r) {
    auto mangled = r.get<std::string>();
    auto readable = r.get<std::string>();
    auto message = r.get<std::string>();
    exception_table& t = exceptions();
    exception_factory make = nullptr;
    {
        std::lock_guard lock(t.m);
        auto it = t.by_mangled_name.find(mangled);
        if (it != t.by_mangled_name.end()) make = it->second;
    }
    if (make != nullptr) return make(message);
    return std::make_exception_ptr(remote_error(std::move(readable), std::move(message)));
}

void register_remote_exception(const std::type_info& type, exception_factory make) {
    exception_table& t = exceptions();
    std::lock_guard lock(t.m);
    t.by_mangled_name[type.name()] = make;
}

}  // namespace weft::detail
