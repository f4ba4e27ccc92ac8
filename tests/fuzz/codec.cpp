// Fuzz target: the process pool's codec decoding bytes it did not make.
//
// What crosses a process boundary is decoded by byte_reader: a call's
// arguments in the worker (the invoker of a function), a result or an
// exception in the pool. The first input byte picks what to decode, the rest
// are the bytes. Decoding must either raise weft::codec_error (or, for the
// invoker, the error that names surplus bytes) or give a value; a value must
// encode back to exactly the bytes it came from (the encoding is canonical),
// and decode again to the same value.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <weft/errors.hpp>
#include <weft/executors/codec.hpp>
#include <weft/executors/errors.hpp>
#include <weft/executors/remote_function.hpp>

#include "remote.hpp"  // executors/src: decode_exception

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_codec: %s\n", what);
    std::abort();
}

// An own type with a codec of its own, as codec.hpp's example has it.
struct account {
    std::string owner;
    std::vector<long> moves;
    bool operator==(const account&) const = default;
};

}  // namespace

template <>
struct weft::codec<account> {
    static void encode(weft::byte_writer& w, const account& a) {
        w.put(a.owner);
        w.put(a.moves);
    }
    static account decode(weft::byte_reader& r) {
        auto owner = r.get<std::string>();
        return {std::move(owner), r.get<std::vector<long>>()};
    }
};

namespace {

// Decodes a T from the bytes; if that works, checks the round trip.
template <class T>
void decode_one(const char* data, std::size_t n) {
    weft::byte_reader r(data, n);
    std::optional<T> v;
    try {
        v.emplace(r.get<T>());
    } catch (const weft::codec_error&) {
        return;  // refused: what garbage must get
    }
    std::size_t used = n - r.remaining();
    weft::byte_writer w;
    w.put(*v);
    if (std::string_view(w.bytes()) != std::string_view(data, used)) {
        fail("a decoded value does not encode back to the bytes it came from");
    }
    weft::byte_reader again(w.bytes().data(), w.bytes().size());
    T second = again.get<T>();
    if (again.remaining() != 0) fail("a re-encoded value decodes with bytes left over");
    weft::byte_writer w2;
    w2.put(second);
    if (w2.bytes() != w.bytes()) fail("a value changed over a second round trip");
}

// What a remote exception decodes to: the registered type, or remote_error.
void decode_exception(const char* data, std::size_t n) {
    weft::byte_reader r(data, n);
    std::exception_ptr e;
    try {
        e = weft::detail::decode_exception(r);
    } catch (const weft::codec_error&) {
        return;
    }
    if (!e) fail("decode_exception gave no exception");
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        (void)std::strlen(x.what());
    } catch (const weft::cancelled_error&) {
    }
}

// The worker's side of a call: the arguments of a function, decoded by its
// invoker, then the function runs; surplus bytes are refused.
std::size_t remote_target(std::string s, std::vector<int> v, std::optional<bool> flag,
                          std::pair<double, std::string> p) {
    return s.size() + v.size() + (flag.value_or(false) ? 1 : 0) + p.second.size();
}

void invoke_call(const char* data, std::size_t n) {
    using fn_type = decltype(&remote_target);
    weft::byte_reader args(data, n);
    weft::byte_writer out;
    try {
        weft::detail::invoke_pointer<std::size_t, std::string, std::vector<int>,
                                     std::optional<bool>, std::pair<double, std::string>>(
            reinterpret_cast<std::uintptr_t>(static_cast<fn_type>(&remote_target)), args, out);
    } catch (const weft::codec_error&) {
        return;  // short, corrupt, or longer than the function takes
    }
    if (out.bytes().size() != sizeof(std::size_t)) fail("the invoker's result has the wrong size");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size == 0) return 0;
    const char* data = reinterpret_cast<const char*>(bytes) + 1;
    std::size_t n = size - 1;
    switch (bytes[0] % 16) {
        case 0:
            decode_one<std::string>(data, n);
            break;
        case 1:
            decode_one<std::vector<int>>(data, n);
            break;
        case 2:
            decode_one<std::vector<std::string>>(data, n);
            break;
        case 3:
            decode_one<std::optional<std::string>>(data, n);
            break;
        case 4:
            decode_one<std::tuple<int, std::string, std::optional<std::vector<double>>>>(data, n);
            break;
        case 5:
            decode_one<std::pair<std::string, std::vector<std::pair<int, std::string>>>>(data, n);
            break;
        case 6:
            decode_one<std::array<std::string, 3>>(data, n);
            break;
        case 7:
            decode_one<std::vector<std::vector<std::string>>>(data, n);
            break;
        case 8:
            decode_one<bool>(data, n);
            break;
        case 9:
            decode_one<std::vector<bool>>(data, n);
            break;
        case 10:
            decode_one<std::vector<std::optional<long>>>(data, n);
            break;
        case 11:
            decode_one<std::vector<account>>(data, n);
            break;
        case 12:
            decode_one<std::tuple<std::uint8_t, std::array<std::uint16_t, 3>, bool>>(data, n);
            break;
        case 13:
            decode_exception(data, n);
            break;
        case 14:
            invoke_call(data, n);
            break;
        default:
            decode_one<std::vector<std::array<std::optional<std::string>, 2>>>(data, n);
            break;
    }
    return 0;
}
