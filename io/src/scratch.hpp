// A per-thread buffer to receive into before copying out exactly what came:
// reads of "up to 64 KiB" then cost a copy of the bytes received instead of
// a 64 KiB allocation, and idle connections hold no read buffer at all.
#pragma once

#include <cstddef>

namespace weft::detail {

// asyncio reads up to 256 KiB per recv; 64 KiB covers a loopback segment
// burst and keeps the per-thread cost small.
inline constexpr std::size_t scratch_size = 64 * 1024;

// This thread's scratch buffer (scratch_size bytes). Use it only between a
// syscall and the copy that follows, with no suspension in between.
char* scratch_buffer();

}  // namespace weft::detail
