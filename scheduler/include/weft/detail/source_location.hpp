// Where a task's coroutine function is, for task dumps: std::source_location,
// or a stand-in with the same members where the standard library cannot
// provide it. libstdc++ 12 builds std::source_location on the compiler's
// __builtin_source_location, which Clang has only from version 15 on; Clang 14
// with libstdc++ 12 (Debian 12's clang) gets the stand-in, made of the
// __builtin_FILE/FUNCTION/LINE builtins that GCC and Clang share. It takes
// three words in each frame instead of one pointer.
#pragma once

#include <cstdint>
#include <version>

#if defined(__cpp_lib_source_location)
#include <source_location>
#endif

namespace weft::detail {

#if defined(__cpp_lib_source_location)

using source_location = std::source_location;

#else

class source_location {
public:
    // As a default argument, the builtins are evaluated where the caller is.
    static constexpr source_location current(const char* file = __builtin_FILE(),
                                             const char* function = __builtin_FUNCTION(),
                                             std::uint_least32_t line = __builtin_LINE()) noexcept {
        source_location l;
        l.file_ = file;
        l.function_ = function;
        l.line_ = line;
        return l;
    }
    constexpr source_location() noexcept = default;
    constexpr const char* file_name() const noexcept { return file_; }
    constexpr const char* function_name() const noexcept { return function_; }
    constexpr std::uint_least32_t line() const noexcept { return line_; }
    constexpr std::uint_least32_t column() const noexcept { return 0; }

private:
    const char* file_ = "";
    const char* function_ = "";
    std::uint_least32_t line_ = 0;
};

#endif

}  // namespace weft::detail
