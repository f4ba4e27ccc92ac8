// weft: asyncio's model and Go's model in one C++20 runtime. This header
// brings in every component.
#pragma once

#include <weft/cli.hpp>
#include <weft/executors.hpp>
#include <weft/io.hpp>
#include <weft/scheduler.hpp>
