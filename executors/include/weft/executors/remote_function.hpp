// Functions a process_pool_executor can run: any plain function (the workers
// are forks of this very program, so its address means the same there), a
// captureless lambda, or a function registered under a name.
//
//     int square(int x) { return x * x; }
//
//     pool.submit(square, 7);                              // by address
//     pool.submit([](int x) { return x + 1; }, 7);         // captureless lambda
//
//     // By name: registered at namespace scope, so that every process that
//     // forks from this program (every pool's workers) knows it.
//     const auto square_job = weft::register_function("square", square);
//     pool.submit(square_job, 7);                          // typed handle
//     pool.submit(weft::by_name<int>("square"), 7);        // looked up at submit
//
// A name is checked when the call is submitted: unknown, registered after the
// pool started its fork server (its workers would not know it), or called
// with argument types other than the registered ones, it raises
// std::invalid_argument. Arguments and results travel as bytes (codec.hpp):
// a type without a codec, a pointer, or a non-const reference parameter is a
// compile-time error.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include <weft/executors/codec.hpp>

namespace weft {

namespace detail {

// Runs in a worker: decodes the arguments, calls the function at `fn`,
// encodes its result. Exceptions propagate (the worker sends them back).
using remote_invoker = void (*)(std::uintptr_t fn, byte_reader& args, byte_writer& result);

struct function_entry {
    std::string name;
    remote_invoker invoke;
    std::uintptr_t fn;
    const std::type_info* signature;  // R(decayed P...)
};

// Registers `e`; returns its index. Raises std::invalid_argument for an empty
// name or one taken by another function.
std::uint32_t add_function(function_entry e);
// Lookups: lock-free reads of an append-only table (safe in a forked worker).
const function_entry* function_at(std::uint32_t index) noexcept;
const function_entry* find_function(const std::string& name, std::uint32_t* index) noexcept;
std::uint32_t function_count() noexcept;
// The demangled name of a type, for error messages.
std::string type_name(const std::type_info& t);

template <class T>
inline constexpr bool bad_param =
    std::is_lvalue_reference_v<T> && !std::is_const_v<std::remove_reference_t<T>>;

template <class R, class... P>
void check_signature() {
    static_assert(!(bad_param<P> || ...),
                  "weft::process_pool_executor: a parameter is a non-const reference; the worker "
                  "cannot write back into this process's objects: return the value instead");
    static_assert((encodable<std::decay_t<P>> && ...),
                  "weft::process_pool_executor: a parameter type cannot be sent to a worker "
                  "process: give it a weft::codec (pointers never can; see codec.hpp)");
    static_assert(std::is_void_v<R> || encodable<std::decay_t<R>>,
                  "weft::process_pool_executor: the result type cannot be sent back from a "
                  "worker process: give it a weft::codec (see codec.hpp)");
}

template <class R, class... P>
void finish_invoke(byte_reader& in, byte_writer& out, auto&& call) {
    // Braced initialisation decodes the arguments left to right.
    std::tuple<std::decay_t<P>...> args{in.get<std::decay_t<P>>()...};
    if (in.remaining() != 0) throw codec_error("weft: arguments longer than the function takes");
    if constexpr (std::is_void_v<R>) {
        std::apply(call, std::move(args));
    } else {
        out.put<std::decay_t<R>>(std::apply(call, std::move(args)));
    }
}

// The invoker of a plain function R(P...).
template <class R, class... P>
void invoke_pointer(std::uintptr_t fn, byte_reader& in, byte_writer& out) {
    auto* f = reinterpret_cast<R (*)(P...)>(fn);
    finish_invoke<R, P...>(in, out, f);
}

// The invoker of a captureless lambda (or any empty, default-constructible
// callable) called with arguments of types A.
template <class F, class... A>
void invoke_stateless(std::uintptr_t, byte_reader& in, byte_writer& out) {
    using R = std::invoke_result_t<F&, A...>;
    finish_invoke<R, A...>(in, out, F{});
}

}  // namespace detail

template <class Sig>
class remote_function;

// A function registered under a name: what register_function returns. It can
// be submitted to a process pool or called here like the function itself.
template <class R, class... P>
class remote_function<R(P...)> {
public:
    using result_type = std::decay_t<R>;

    remote_function(std::uint32_t index, R (*fn)(P...)) noexcept : index_(index), fn_(fn) {}

    const std::string& name() const noexcept { return detail::function_at(index_)->name; }
    std::uint32_t index() const noexcept { return index_; }
    R (*pointer() const noexcept)(P...) { return fn_; }

    // Calls it in this process.
    R operator()(P... args) const { return fn_(std::forward<P>(args)...); }

private:
    std::uint32_t index_;
    R (*fn_)(P...);
};

// Registers `fn` under `name` for every process pool created afterwards. Do it
// at namespace scope (static initialisation), before any pool exists: a
// pool's workers only know what was registered when its fork server started.
// Raises std::invalid_argument for an empty name or one taken by another
// function (registering the same function twice under its name is fine).
template <class R, class... P>
remote_function<R(P...)> register_function(std::string name, R (*fn)(P...)) {
    detail::check_signature<R, P...>();
    std::uint32_t index = detail::add_function(detail::function_entry{
        std::move(name), &detail::invoke_pointer<R, P...>, reinterpret_cast<std::uintptr_t>(fn),
        &typeid(std::decay_t<R>(std::decay_t<P>...))});
    return remote_function<R(P...)>(index, fn);
}

// A registered function looked up by name when it is submitted; R is its
// result type, and the arguments given must have its parameters' types.
template <class R>
struct by_name {
    explicit by_name(std::string function_name) : name(std::move(function_name)) {}
    std::string name;
};

}  // namespace weft
