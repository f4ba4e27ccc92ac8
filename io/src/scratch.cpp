// The per-thread receive buffer.
#include "scratch.hpp"

#include <memory>

namespace weft::detail {

char* scratch_buffer() {
    thread_local std::unique_ptr<char[]> buffer;
    if (!buffer) buffer.reset(new char[scratch_size]);
    return buffer.get();
}

}  // namespace weft::detail
