// The bytes a process_pool_executor moves between processes: a function's
// arguments on the way to a worker, its result (or exception) on the way back.
//
//     struct point { int x, y; };              // trivially copyable: built in
//     std::vector<std::string> names;          // strings, vectors: built in
//
//     struct account { std::string owner; std::vector<long> moves; };
//     template <>
//     struct weft::codec<account> {            // the customisation point
//         static void encode(weft::byte_writer& w, const account& a) {
//             w.put(a.owner);
//             w.put(a.moves);
//         }
//         static account decode(weft::byte_reader& r) {
//             auto owner = r.get<std::string>();
//             return {std::move(owner), r.get<std::vector<long>>()};
//         }
//     };
//
// Built in: trivially copyable types that are not pointers (numbers, enums,
// plain structs), std::string, std::vector, std::array, std::pair,
// std::tuple, std::optional of encodable types. A pointer is refused at
// compile time: the worker could only see its own copy of the memory (a
// struct with a pointer member cannot be told apart; give it a codec).
//
// Decoding checks what it reads: bytes that are short, a length longer than
// the bytes left, or a bool or optional flag other than 0 or 1 raise
// codec_error, and nothing is allocated beyond a small multiple of the input's
// size. (A plain struct's members are taken as sent: a bool member of one
// is only as good as the sender.)
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

// Malformed or truncated bytes.
class codec_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class byte_writer;
class byte_reader;

// Specialise for your own types: `static void encode(byte_writer&, const T&)`
// and `static T decode(byte_reader&)`.
template <class T>
struct codec;

// Whether values of T can be sent to a worker process and back.
template <class T>
concept encodable = std::is_object_v<T> && requires(byte_writer& w, byte_reader& r, const T& v) {
    codec<T>::encode(w, v);
    { codec<T>::decode(r) } -> std::same_as<T>;
};

class byte_writer {
public:
    void write(const void* data, std::size_t n) {
        if (n != 0) bytes_.append(static_cast<const char*>(data), n);
    }
    // Encodes `v` with codec<T>.
    template <class T>
    void put(const T& v) {
        static_assert(encodable<T>, "weft::byte_writer::put: no weft::codec for this type");
        codec<T>::encode(*this, v);
    }
    std::string& bytes() noexcept { return bytes_; }

private:
    std::string bytes_;
};

class byte_reader {
public:
    byte_reader(const char* data, std::size_t n) noexcept : p_(data), end_(data + n) {}
    std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
    // The next `n` bytes; raises codec_error if there are fewer.
    const char* take(std::size_t n) {
        if (n > remaining()) {
            throw codec_error("weft::codec: truncated data (wanted " + std::to_string(n) +
                              " bytes, " + std::to_string(remaining()) + " left)");
        }
        const char* at = p_;
        p_ += n;
        return at;
    }
    void read(void* out, std::size_t n) {
        const char* from = take(n);
        if (n != 0) std::memcpy(out, from, n);  // `out` may be null when n is 0
    }
    // Decodes a T with codec<T>.
    template <class T>
    T get() {
        static_assert(encodable<T>, "weft::byte_reader::get: no weft::codec for this type");
        return codec<T>::decode(*this);
    }

private:
    const char* p_;
    const char* end_;
};

namespace detail {

// Sent as their bytes: trivially copyable, and not something that points into
// the sender's memory, nor what holds a bool. A byte other than 0 or 1 is no bool
// (reading it as one is undefined behaviour), so bool, std::optional (its
// flag; a trivially copyable one would otherwise go as its bytes) and arrays
// of them have codecs that check.
template <class T>
struct holds_bool : std::is_same<T, bool> {};
template <class T>
struct holds_bool<std::optional<T>> : std::true_type {};
template <class T, std::size_t N>
struct holds_bool<std::array<T, N>> : holds_bool<std::remove_cv_t<T>> {};

template <class T>
concept raw_encodable =
    std::is_trivially_copyable_v<T> && std::is_object_v<T> && !std::is_pointer_v<T> &&
    !std::is_member_pointer_v<T> && !std::is_array_v<T> && !std::is_same_v<T, std::nullptr_t> &&
    !holds_bool<std::remove_cv_t<T>>::value;

// The fewest bytes a T takes encoded, so that a count can be checked against
// the bytes left before anything is allocated for it. A codec of your own is
// taken to write at least one byte.
template <class T>
struct min_encoded_size {
    static constexpr std::size_t value = 1;
};
template <class T>
inline constexpr std::size_t min_encoded_size_v = min_encoded_size<T>::value;

// A byte that must be 0 or 1 (a bool, an optional's flag).
inline bool get_flag(byte_reader& r, const char* what) {
    unsigned char b;
    r.read(&b, 1);
    if (b > 1) {
        throw codec_error(std::string("weft::codec: ") + what + " byte is " + std::to_string(b) +
                          ", not 0 or 1");
    }
    return b == 1;
}

// A count of elements that take at least `element_size` bytes each.
inline std::uint64_t get_count(byte_reader& r, std::size_t element_size) {
    std::uint64_t n;
    r.read(&n, sizeof n);
    // A count larger than the bytes left can only be corruption: refuse it
    // before allocating for it.
    if (element_size != 0 && n > r.remaining() / element_size) {
        throw codec_error("weft::codec: a length of " + std::to_string(n) +
                          " is more than the data holds");
    }
    return n;
}

}  // namespace detail

template <class T>
requires detail::raw_encodable<T>
struct codec<T> {
    static void encode(byte_writer& w, const T& v) { w.write(&v, sizeof(T)); }
    static T decode(byte_reader& r) {
        std::array<unsigned char, sizeof(T)> raw;
        r.read(raw.data(), sizeof(T));
        return std::bit_cast<T>(raw);
    }
};

template <>
struct codec<bool> {
    static void encode(byte_writer& w, bool b) {
        unsigned char byte = b ? 1 : 0;
        w.write(&byte, 1);
    }
    static bool decode(byte_reader& r) { return detail::get_flag(r, "a bool"); }
};

template <>
struct codec<std::string> {
    static void encode(byte_writer& w, const std::string& s) {
        std::uint64_t n = s.size();
        w.write(&n, sizeof n);
        w.write(s.data(), s.size());
    }
    static std::string decode(byte_reader& r) {
        std::uint64_t n = detail::get_count(r, 1);
        const char* p = r.take(n);
        return std::string(p, n);
    }
};

template <class T>
requires encodable<T>
struct codec<std::vector<T>> {
    static void encode(byte_writer& w, const std::vector<T>& v) {
        std::uint64_t n = v.size();
        w.write(&n, sizeof n);
        if constexpr (detail::raw_encodable<T>) {
            w.write(v.data(), v.size() * sizeof(T));
        } else {
            for (const T& x : v)
                codec<T>::encode(w, x);
        }
    }
    static std::vector<T> decode(byte_reader& r) {
        if constexpr (detail::raw_encodable<T>) {
            std::uint64_t n = detail::get_count(r, sizeof(T));
            std::vector<T> v(n);
            r.read(v.data(), n * sizeof(T));
            return v;
        } else {
            std::uint64_t n = detail::get_count(r, detail::min_encoded_size_v<T>);
            std::vector<T> v;
            // Up front, no more than about the bytes left: a T in memory can
            // be far larger than encoded (an empty string: 32 bytes for 8).
            v.reserve(std::min<std::uint64_t>(n, r.remaining() / sizeof(T) + 1));
            for (std::uint64_t i = 0; i < n; ++i)
                v.push_back(codec<T>::decode(r));
            return v;
        }
    }
};

template <class T, std::size_t N>
requires(encodable<T> && !detail::raw_encodable<std::array<T, N>>) struct codec<std::array<T, N>> {
    static void encode(byte_writer& w, const std::array<T, N>& a) {
        for (const T& x : a)
            codec<T>::encode(w, x);
    }
    static std::array<T, N> decode(byte_reader& r) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            // Braced initialisation evaluates left to right.
            return std::array<T, N>{((void)I, codec<T>::decode(r))...};
        }
        (std::make_index_sequence<N>{});
    }
};

template <class A, class B>
requires(encodable<A>&& encodable<B> &&
         !detail::raw_encodable<std::pair<A, B>>) struct codec<std::pair<A, B>> {
    static void encode(byte_writer& w, const std::pair<A, B>& p) {
        codec<A>::encode(w, p.first);
        codec<B>::encode(w, p.second);
    }
    static std::pair<A, B> decode(byte_reader& r) {
        A a = codec<A>::decode(r);
        return {std::move(a), codec<B>::decode(r)};
    }
};

template <class... T>
requires((encodable<T> && ...) &&
         !detail::raw_encodable<std::tuple<T...>>) struct codec<std::tuple<T...>> {
    static void encode(byte_writer& w, const std::tuple<T...>& t) {
        std::apply([&](const T&... x) { (codec<T>::encode(w, x), ...); }, t);
    }
    static std::tuple<T...> decode(byte_reader& r) {
        return std::tuple<T...>{codec<T>::decode(r)...};  // braced: left to right
    }
};

template <class T>
requires(encodable<T> && !detail::raw_encodable<std::optional<T>>) struct codec<std::optional<T>> {
    static void encode(byte_writer& w, const std::optional<T>& o) {
        unsigned char has = o.has_value() ? 1 : 0;
        w.write(&has, 1);
        if (has) codec<T>::encode(w, *o);
    }
    static std::optional<T> decode(byte_reader& r) {
        if (!detail::get_flag(r, "an optional's flag")) return std::nullopt;
        return codec<T>::decode(r);
    }
};

namespace detail {

template <class T>
requires raw_encodable<T>
struct min_encoded_size<T> {
    static constexpr std::size_t value = sizeof(T);
};
template <class T>
struct min_encoded_size<std::vector<T>> {
    static constexpr std::size_t value = sizeof(std::uint64_t);
};
template <>
struct min_encoded_size<std::string> {
    static constexpr std::size_t value = sizeof(std::uint64_t);
};
template <class T, std::size_t N>
requires(!raw_encodable<std::array<T, N>>) struct min_encoded_size<std::array<T, N>> {
    static constexpr std::size_t each = min_encoded_size_v<T>;
    static constexpr std::size_t value = N == 0 ? 1 : each * N;
};
template <class A, class B>
requires(!raw_encodable<std::pair<A, B>>) struct min_encoded_size<std::pair<A, B>> {
    static constexpr std::size_t value = min_encoded_size_v<A> + min_encoded_size_v<B>;
};
template <class... T>
requires(!raw_encodable<std::tuple<T...>> &&
         sizeof...(T) > 0) struct min_encoded_size<std::tuple<T...>> {
    static constexpr std::size_t value = (min_encoded_size_v<T> + ...);
};

}  // namespace detail

}  // namespace weft
