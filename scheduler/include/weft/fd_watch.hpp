// Waiting for any file descriptor, such as one that another library owns
// (libpq's socket, a c-ares channel's, a device): trio's wait_readable.
//
//     co_await weft::wait_readable(PQsocket(conn));
//     co_await weft::wait_for(weft::wait_writable(fd), 1s);  // with a timeout
//
// The callback form, asyncio's loop.add_reader and add_writer, is on
// event_loop (event_loop.hpp).
#pragma once

#include <weft/task.hpp>

namespace weft {

// Completes once `fd` is readable (wait_readable) or writable (wait_writable),
// a hang-up or an error on it included. Cancellable; compose a timeout with
// wait_for. One waiter per fd and direction: a second one, or a callback
// registered with add_reader/add_writer for the same direction, is a
// std::logic_error. Throws std::invalid_argument for a negative fd and
// std::system_error naming the fd when it is not open or cannot be polled
// (a regular file, an fd a weft::io object owns).
task<void> wait_readable(int fd);
task<void> wait_writable(int fd);

}  // namespace weft
