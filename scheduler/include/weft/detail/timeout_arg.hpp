// A timeout or delay argument: seconds as a double, like asyncio, or any
// std::chrono duration. Validation (negative, NaN) is the caller's, so the
// error can name the function.
#pragma once

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

namespace weft {

class timeout_arg {
public:
    timeout_arg(double seconds) noexcept : s_(seconds) {}  // NOLINT: implicit by design
    timeout_arg(int seconds) noexcept : s_(seconds) {}     // NOLINT
    template <class Rep, class Period>
    timeout_arg(std::chrono::duration<Rep, Period> d) noexcept  // NOLINT
        : s_(std::chrono::duration<double>(d).count()) {}
    double seconds() const noexcept { return s_; }

    // Raises std::invalid_argument for a negative or NaN timeout, naming `who`.
    double checked(const char* who) const {
        if (std::isnan(s_) || s_ < 0) {
            throw std::invalid_argument(std::string(who) + ": timeout must be >= 0 seconds, got " +
                                        std::to_string(s_));
        }
        return s_;
    }

private:
    double s_;
};

}  // namespace weft
