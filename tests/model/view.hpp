// What one thread knows of memory, in the model checker: for every model
// location, the position in that location's modification order of the
// newest store the thread has read, made, or that happens before it.
//
// A view is the part of a vector clock that coherence needs. A load may
// read only stores at or after its thread's view of the location; a release
// store carries its thread's view, and an acquire load of it raises the
// loader's view to that one. (Vector clocks would also tell which accesses
// race; the model has no plain-memory accesses to check, so views suffice.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace weft::model {

class view {
public:
    // Position 0 is a location's initial value, which every thread sees.
    std::uint32_t operator[](std::uint32_t location) const noexcept {
        return location < at_.size() ? at_[location] : 0;
    }

    void raise(std::uint32_t location, std::uint32_t position) {
        if (location >= at_.size()) at_.resize(location + 1, 0);
        at_[location] = std::max(at_[location], position);
    }

    void join(const view& other) {
        if (other.at_.size() > at_.size()) at_.resize(other.at_.size(), 0);
        for (std::size_t i = 0; i < other.at_.size(); ++i)
            at_[i] = std::max(at_[i], other.at_[i]);
    }

    void clear() noexcept { at_.clear(); }

private:
    std::vector<std::uint32_t> at_;
};

}  // namespace weft::model
