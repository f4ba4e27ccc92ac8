# Runs examples/blocking_demo and checks its last lines, the two models side
# by side:
#   --threads 1: asyncio's model. The ticker stops for the whole blocking
#                second: max_gap_ms >= 900, and nothing was handed off.
#   --threads 2: Go's model. The monitor hands the blocked worker's loop to
#                another thread: handoffs >= 1 and max_gap_ms < 30 (a tick
#                is 10 ms, the block is found within 15 ms). A loaded
#                machine can stall any process for tens of milliseconds, so
#                this mode gets five tries; without a hand-off every try
#                would report about 1000 or no hand-off at all.
# Usage: cmake -DPROGRAM=path -DTHREADS=1|2 -P blocking_demo_check.cmake
if(THREADS EQUAL 1)
    set(tries 1)
else()
    set(tries 5)
endif()
foreach(try RANGE 1 ${tries})
    execute_process(COMMAND ${PROGRAM} --threads ${THREADS}
                    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 30)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "blocking_demo --threads ${THREADS} failed (${rc}):\n${out}${err}")
    endif()
    if(NOT err STREQUAL "")
        message(FATAL_ERROR "blocking_demo wrote to stderr:\n${err}")
    endif()
    if(NOT out MATCHES "handoffs=([0-9]+)\nmax_gap_ms=([0-9]+)\n$")
        message(FATAL_ERROR "blocking_demo: no handoffs= and max_gap_ms= last lines:\n${out}")
    endif()
    set(handoffs ${CMAKE_MATCH_1})
    set(gap ${CMAKE_MATCH_2})
    message(STATUS "try ${try}: handoffs=${handoffs} max_gap_ms=${gap}")
    if(THREADS EQUAL 1)
        if(gap LESS 900 OR NOT handoffs EQUAL 0)
            message(FATAL_ERROR "single-thread mode must stall the ticker for the whole block "
                                "and hand nothing off; got max_gap_ms=${gap} handoffs=${handoffs}")
        endif()
        return()
    endif()
    if(handoffs LESS 1)
        message(FATAL_ERROR "Go mode: the blocked worker was never handed off:\n${out}")
    endif()
    if(gap LESS 30)
        return()
    endif()
endforeach()
message(FATAL_ERROR "Go mode: the ticker stalled ${gap} ms (want < 30) in ${tries} tries")
