# ctest script: install the build tree into a scratch prefix, then configure,
# build and run tests/install/consumer against it with find_package(weft).
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P run.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "install test: ${var} is not set")
    endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")

function(step)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "install test: `${ARGN}` failed (${rc})\n${out}\n${err}")
    endif()
    set(step_output "${out}" PARENT_SCOPE)
endfunction()

step(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
step(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/consumer" -B "${WORK_DIR}/build" -G Ninja
     "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix" -DCMAKE_BUILD_TYPE=Release)
step(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
step("${WORK_DIR}/build/consumer")
if(NOT step_output MATCHES "consumer ok 42 42")
    message(FATAL_ERROR "install test: unexpected output: ${step_output}")
endif()
message(STATUS "install test: ${step_output}")

# weft::cli (weft/cli.hpp and CLI11), which the consumer's cli_consumer links.
step("${WORK_DIR}/build/cli_consumer" --threads 2)
if(NOT step_output MATCHES "cli consumer ok 42 threads=2")
    message(FATAL_ERROR "install test: unexpected output: ${step_output}")
endif()
message(STATUS "install test: ${step_output}")

# weft without its cli component must not need CLI11: configure the consumer
# again with CLI11 hidden from find_package.
step(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/consumer" -B "${WORK_DIR}/build-no-cli"
     -G Ninja "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix" -DCMAKE_BUILD_TYPE=Release
     -DWEFT_CONSUMER_CLI=OFF -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON)
message(STATUS "install test: find_package(weft) works without CLI11")
