// Everything in weft::scheduler.
#pragma once

#include <weft/barrier.hpp>
#include <weft/blocking.hpp>
#include <weft/condition.hpp>
#include <weft/errors.hpp>
#include <weft/event.hpp>
#include <weft/event_loop.hpp>
#include <weft/future.hpp>
#include <weft/gather.hpp>
#include <weft/lock.hpp>
#include <weft/queue.hpp>
#include <weft/run.hpp>
#include <weft/runtime.hpp>
#include <weft/semaphore.hpp>
#include <weft/shield.hpp>
#include <weft/sleep.hpp>
#include <weft/task.hpp>
#include <weft/task_dump.hpp>
#include <weft/task_group.hpp>
#include <weft/task_handle.hpp>
#include <weft/version.hpp>
#include <weft/wait.hpp>
#include <weft/wait_for.hpp>
