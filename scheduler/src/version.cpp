// The version compiled into the library (see weft/version.hpp).
#include <weft/version.hpp>

namespace weft {

int linked_version() noexcept {
    return WEFT_VERSION;
}

}  // namespace weft
