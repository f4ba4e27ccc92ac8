// Exceptions across the process boundary (remote.cpp).
#pragma once

#include <exception>

#include <weft/executors/codec.hpp>

namespace weft::detail {

// In a worker, inside a catch block: the exception's type (mangled, for the
// pool to look up, and readable) and message.
void encode_current_exception(byte_writer& w);
// In the pool: the same type with the same message where it is known
// (register_remote_exception), else a remote_error naming it.
std::exception_ptr decode_exception(byte_reader& r);

}  // namespace weft::detail
