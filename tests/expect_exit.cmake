# ctest script: runs a program and checks its exit status and what it wrote.
#   cmake -DPROGRAM=path [-DARGS=a|b] [-DPREFIX=taskset|-c|0] [-DENV=NAME=value|...]
#         [-DUNSET=NAME|...] -DEXIT=n [-DSTDERR_HAS=text|...] [-DSTDERR_LACKS=text|...]
#         [-DSTDOUT_HAS=text|...] [-DSTDOUT_LACKS=text|...] [-DSTDOUT_EMPTY=ON] [-DSTDERR_LINES=n] -P expect_exit.cmake
# Lists are separated by '|' (a ';' would not survive add_test). The texts
# are matched literally, not as regular expressions. PREFIX runs before the
# program (a command such as taskset); ENV sets variables, possibly to the
# empty string (NAME=), and UNSET removes them.
cmake_minimum_required(VERSION 3.25)

foreach(var PROGRAM EXIT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "expect_exit.cmake: ${var} is not set")
    endif()
endforeach()

function(bar_list out value)
    string(REPLACE "|" ";" value "${value}")
    set(${out} "${value}" PARENT_SCOPE)
endfunction()

bar_list(args "${ARGS}")
bar_list(prefix "${PREFIX}")
bar_list(env_set "${ENV}")
bar_list(env_unset "${UNSET}")
set(env_args "")
foreach(name IN LISTS env_unset)
    list(APPEND env_args "--unset=${name}")
endforeach()
list(APPEND env_args ${env_set})

execute_process(COMMAND ${CMAKE_COMMAND} -E env ${env_args} ${prefix} ${PROGRAM} ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)

set(shown "${PREFIX} ${PROGRAM} ${ARGS} (env ${ENV}; unset ${UNSET})")
function(fail what)
    message(FATAL_ERROR "${shown}: ${what}\n--- exit status: ${rc}\n--- stdout:\n${out}\n"
                        "--- stderr:\n${err}")
endfunction()

if(NOT rc STREQUAL "${EXIT}")
    fail("expected exit status ${EXIT}")
endif()
bar_list(wanted "${STDERR_HAS}")
foreach(text IN LISTS wanted)
    string(FIND "${err}" "${text}" at)
    if(at EQUAL -1)
        fail("stderr lacks '${text}'")
    endif()
endforeach()
bar_list(unwanted "${STDERR_LACKS}")
foreach(text IN LISTS unwanted)
    string(FIND "${err}" "${text}" at)
    if(NOT at EQUAL -1)
        fail("stderr has '${text}'")
    endif()
endforeach()
bar_list(wanted "${STDOUT_HAS}")
foreach(text IN LISTS wanted)
    string(FIND "${out}" "${text}" at)
    if(at EQUAL -1)
        fail("stdout lacks '${text}'")
    endif()
endforeach()
bar_list(unwanted "${STDOUT_LACKS}")
foreach(text IN LISTS unwanted)
    string(FIND "${out}" "${text}" at)
    if(NOT at EQUAL -1)
        fail("stdout has '${text}'")
    endif()
endforeach()
if(STDOUT_EMPTY AND NOT out STREQUAL "")
    fail("expected nothing on stdout")
endif()
if(DEFINED STDERR_LINES)
    string(REGEX MATCHALL "\n" newlines "${err}")
    list(LENGTH newlines lines)
    if(NOT lines EQUAL STDERR_LINES)
        fail("expected ${STDERR_LINES} line(s) on stderr, got ${lines}")
    endif()
endif()
