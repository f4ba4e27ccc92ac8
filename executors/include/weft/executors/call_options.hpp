// Per-call settings of a submission (process_pool_executor::submit and
// run_in_executor take them before the function).
//
//     co_await weft::run_in_executor(pool, weft::call_options{.timeout = 2.0}, render, page);
#pragma once

#include <optional>

namespace weft {

struct call_options {
    // Process pools: once the call has run this many seconds (counted from
    // when a worker takes it), its worker is killed and the call fails with
    // timeout_error. None by default.
    std::optional<double> timeout;
};

}  // namespace weft
