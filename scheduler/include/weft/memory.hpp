// Giving memory back: the frame pool and weft::trim().
//
// Coroutine frames and the runtime's small objects (futures, callback
// handles, timers) come from weft's frame pool, which keeps freed objects for
// reuse, so that a spawn in steady state allocates nothing. What a burst of
// tasks leaves behind is returned to the system on its own once it has sat
// unused for about a second while a loop (asyncio mode) or a worker (Go mode)
// was idle; `trim()` returns what can be returned right away.
//
// Only whole 64 KiB chunks go back, and only once every object in them is
// free; the pool keeps a warm reserve of 1 MiB of such chunks so that a
// steady workload does not map and unmap memory over and over. Free objects
// that other threads hold in their own lists are handed in when those threads
// next go idle (or exit), and trimmed after that.
//
// Under AddressSanitizer and ThreadSanitizer the runtime allocates with
// operator new instead (so that the sanitizer sees every object): the pool is
// then unused and trim() returns 0.
#pragma once

#include <cstddef>

namespace weft {

// Returns to the system every chunk of the frame pool whose objects are all
// free, keeping the warm reserve, after handing in this thread's own free
// objects. Returns the number of bytes returned. Safe to call from any thread,
// inside a task or outside any loop, at any time; it takes the pool's shared
// lists for the duration of the count, so it belongs in quiet moments (after a
// burst, before a long wait), not in a hot loop.
std::size_t trim() noexcept;

struct frame_pool_stats {
    std::size_t held_bytes;         // obtained from the system and not returned
    std::size_t reserve_bytes;      // what trimming keeps (the warm reserve)
    std::size_t shared_free_bytes;  // free objects on the shared lists (excludes per-thread lists)
    std::size_t returned_bytes;     // returned to the system so far, in total
};

// The frame pool's numbers, all threads together (a snapshot: other threads
// may be allocating while it is taken).
frame_pool_stats frame_pool_statistics() noexcept;

}  // namespace weft
