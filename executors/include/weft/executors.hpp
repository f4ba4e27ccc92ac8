// weft::executors: blocking and CPU-bound work off the event loop, as
// Python's concurrent.futures and asyncio's run_in_executor do it.
//
//   thread_pool_executor    concurrent.futures.ThreadPoolExecutor (oneTBB)
//   process_pool_executor   concurrent.futures.ProcessPoolExecutor (fork server)
//   executor_future<T>      concurrent.futures.Future (thread-safe, awaitable)
//   run_in_executor, to_thread, default_executor
//   codec<T>                how values travel to worker processes
//
// See docs/executors.md.
#pragma once

#include <weft/executors/call_options.hpp>
#include <weft/executors/codec.hpp>
#include <weft/executors/errors.hpp>
#include <weft/executors/executor_future.hpp>
#include <weft/executors/map_result.hpp>
#include <weft/executors/process_pool.hpp>
#include <weft/executors/remote_function.hpp>
#include <weft/executors/run_in_executor.hpp>
#include <weft/executors/thread_pool.hpp>
