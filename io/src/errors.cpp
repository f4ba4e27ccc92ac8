// Raising the errors of weft/io/errors.hpp.
#include <cerrno>
#include <string>
#include <system_error>

#include <weft/io/errors.hpp>

namespace weft::detail {

void throw_io_error(const char* what, int err) {
    std::error_code code(err, std::generic_category());
    switch (err) {
        case ECONNRESET:
        case ECONNREFUSED:
        case ECONNABORTED:
        case EPIPE:
            throw connection_error(code, what);
        default:
            throw std::system_error(code, what);
    }
}

void throw_closed(const char* what) {
    throw closed_error(std::string(what) + ": the socket or pipe is closed");
}

}  // namespace weft::detail
