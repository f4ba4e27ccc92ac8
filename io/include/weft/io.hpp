// Everything in weft::io: sockets and their awaitables, name resolution,
// asyncio-style streams and servers, subprocesses, and signal handlers.
#pragma once

#include <weft/io/address.hpp>
#include <weft/io/errors.hpp>
#include <weft/io/file.hpp>
#include <weft/io/resolver.hpp>
#include <weft/io/server.hpp>
#include <weft/io/signals.hpp>
#include <weft/io/socket.hpp>
#include <weft/io/stream.hpp>
#include <weft/io/subprocess.hpp>
