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

// A bool is one byte, 0 or 1: any other byte is corruption, not a bool (made
// into one, it is undefined behaviour). The same for an optional's flag,
// which keeps the encoding canonical: a value encodes back to its bytes.
TEST(Codec, BoolAndOptionalFlagsOtherThanZeroOrOneAreRefused) {
    EXPECT_EQ(round_trip(true), true);
    EXPECT_EQ(round_trip(false), false);
    EXPECT_EQ(round_trip(std::vector<bool>{true, false, true}),
              (std::vector<bool>{true, false, true}));
    const char two = 2;
    weft::byte_reader as_bool(&two, 1);
    EXPECT_THROW(as_bool.get<bool>(), weft::codec_error);
    weft::byte_reader as_optional(&two, 1);
    EXPECT_THROW(as_optional.get<std::optional<char>>(), weft::codec_error);
    // A trivially copyable optional is not sent as its bytes: its flag and a
    // bool inside are checked too.
    EXPECT_EQ(round_trip(std::optional<int>(5)), std::optional<int>(5));
    EXPECT_EQ(round_trip(std::optional<bool>(false)), std::optional<bool>(false));
    EXPECT_EQ(round_trip(std::array<bool, 2>{true, false}), (std::array<bool, 2>{true, false}));
    const char engaged_97[] = {1, 97};
    weft::byte_reader as_optional_bool(engaged_97, sizeof engaged_97);
    EXPECT_THROW(as_optional_bool.get<std::optional<bool>>(), weft::codec_error);
    std::string flags("\x01\x01\x07", 3);  // vector<bool>{...}: count 3, then the bytes
    std::uint64_t three = 3;
    flags.insert(0, reinterpret_cast<const char*>(&three), sizeof three);
    weft::byte_reader as_vector(flags.data(), flags.size());
    EXPECT_THROW(as_vector.get<std::vector<bool>>(), weft::codec_error);
}

// A count of elements is checked against the fewest bytes each can take:
// three strings need 24 bytes of lengths at least.
TEST(Codec, CountsAreCheckedAgainstTheSmallestEncodedElement) {
    static_assert(weft::detail::min_encoded_size_v<std::string> == 8);
    static_assert(weft::detail::min_encoded_size_v<std::pair<std::string, int>> == 12);
    static_assert(weft::detail::min_encoded_size_v<std::array<std::string, 4>> == 32);
    static_assert(weft::detail::min_encoded_size_v<std::optional<std::string>> == 1);
    std::uint64_t three = 3;
    std::string bytes(reinterpret_cast<const char*>(&three), sizeof three);
    bytes += std::string(16, '\0');  // room for two empty strings, not three
    weft::byte_reader r(bytes.data(), bytes.size());
    try {
        r.get<std::vector<std::string>>();
        ADD_FAILURE() << "decoded three strings from 16 bytes";
    } catch (const weft::codec_error& e) {
        EXPECT_NE(std::string(e.what()).find("a length of 3 is more than the data holds"),
                  std::string::npos)
            << e.what();
    }
}
