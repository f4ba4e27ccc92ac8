// The codec: every built-in kind of value survives a round trip, corrupt or
// short input is refused with codec_error, and what cannot travel is known
// at compile time.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

template <class T>
T round_trip(const T& v) {
    weft::byte_writer w;
    w.put(v);
    weft::byte_reader r(w.bytes().data(), w.bytes().size());
    T out = r.get<T>();
    EXPECT_EQ(r.remaining(), 0u);
    return out;
}

struct plain {
    int a;
    double b;
    char c[3];
    bool operator==(const plain&) const = default;
};

enum class colour : std::uint8_t { red, green };

}  // namespace

TEST(Codec, BuiltInTypesRoundTrip) {
    EXPECT_EQ(round_trip(42), 42);
    EXPECT_EQ(round_trip(-1.5), -1.5);
    EXPECT_EQ(round_trip(colour::green), colour::green);
    EXPECT_EQ(round_trip(plain{1, 2.5, {'x', 'y', 'z'}}), (plain{1, 2.5, {'x', 'y', 'z'}}));
    EXPECT_EQ(round_trip(std::string("hello\0world", 11)), std::string("hello\0world", 11));
    EXPECT_EQ(round_trip(std::string()), std::string());
    EXPECT_EQ(round_trip(std::vector<int>{1, 2, 3}), (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(round_trip(std::vector<std::string>{"a", "", "ccc"}),
              (std::vector<std::string>{"a", "", "ccc"}));
    EXPECT_EQ(round_trip(std::vector<std::vector<int>>{{1}, {}, {2, 3}}),
              (std::vector<std::vector<int>>{{1}, {}, {2, 3}}));
    EXPECT_EQ(round_trip(std::pair<std::string, int>{"k", 1}),
              (std::pair<std::string, int>{"k", 1}));
    EXPECT_EQ(round_trip(std::tuple<int, std::string, double>{1, "two", 3.0}),
              (std::tuple<int, std::string, double>{1, "two", 3.0}));
    EXPECT_EQ(round_trip(std::optional<std::string>("x")), std::optional<std::string>("x"));
    EXPECT_EQ(round_trip(std::optional<std::string>()), std::optional<std::string>());
    EXPECT_EQ(round_trip(std::array<std::string, 2>{"p", "q"}),
              (std::array<std::string, 2>{"p", "q"}));
    EXPECT_EQ(round_trip(std::array<int, 3>{4, 5, 6}), (std::array<int, 3>{4, 5, 6}));
}

TEST(Codec, TruncatedOrCorruptInputIsRefused) {
    weft::byte_writer w;
    w.put(std::string("hello"));
    std::string bytes = w.bytes();
    weft::byte_reader short_input(bytes.data(), bytes.size() - 1);
    EXPECT_THROW(short_input.get<std::string>(), weft::codec_error);
    // A length far beyond the data: refused before anything is allocated.
    std::uint64_t huge = std::uint64_t{1} << 60;
    std::string bad(reinterpret_cast<const char*>(&huge), sizeof huge);
    weft::byte_reader r(bad.data(), bad.size());
    EXPECT_THROW(r.get<std::vector<double>>(), weft::codec_error);
    weft::byte_reader r2(bad.data(), bad.size());
    EXPECT_THROW(r2.get<std::vector<std::string>>(), weft::codec_error);
}

TEST(Codec, WhatCanTravelIsKnownAtCompileTime) {
    static_assert(weft::encodable<int>);
    static_assert(weft::encodable<plain>);
    static_assert(weft::encodable<std::vector<std::pair<int, std::string>>>);
    static_assert(!weft::encodable<int*>);  // pointers never
    static_assert(!weft::encodable<const char*>);
    static_assert(!weft::encodable<std::vector<int*>>);
    static_assert(!weft::encodable<std::unique_ptr<int>>);
    static_assert(!weft::encodable<std::vector<std::unique_ptr<int>>>);
    SUCCEED();
}
