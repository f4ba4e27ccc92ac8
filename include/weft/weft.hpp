// weft: asyncio's model and Go's model in one C++20 runtime. This header
// brings in every component. The shared command line (--threads, parsed with
// CLI11) is apart, in weft/cli.hpp (CMake target weft::cli), so that programs
// without it do not need CLI11.
#pragma once

#include <weft/executors.hpp>
#include <weft/io.hpp>
#include <weft/scheduler.hpp>
