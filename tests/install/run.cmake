# ctest script: install the build tree into a scratch prefix, then build and
# run tests/install/consumer against it twice: with find_package(weft), and
# with a plain compiler command from `pkg-config --cflags --libs weft`.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DCXX=... [-DSHARED=ON] -P run.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR CXX)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "install test: ${var} is not set")
    endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(step)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "install test: `${ARGN}` failed (${rc})\n${out}\n${err}")
    endif()
    string(STRIP "${out}" out)
    set(step_output "${out}" PARENT_SCOPE)
endfunction()

function(expect_consumer_output what)
    if(NOT step_output MATCHES "^consumer ok 42 42 version [0-9]+\\.[0-9]+\\.[0-9]+$")
        message(FATAL_ERROR "install test (${what}): unexpected output: ${step_output}")
    endif()
    message(STATUS "install test (${what}): ${step_output}")
endfunction()

step(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")

# The libraries installed are the kind this tree built.
file(GLOB_RECURSE shared_libs "${prefix}/lib*/libweft_scheduler.so*")
file(GLOB_RECURSE static_libs "${prefix}/lib*/libweft_scheduler.a")
if(SHARED)
    if(NOT shared_libs OR static_libs)
        message(FATAL_ERROR "install test: expected a shared libweft_scheduler, found "
                            "'${shared_libs}' '${static_libs}'")
    endif()
elseif(NOT static_libs)
    message(FATAL_ERROR "install test: expected a static libweft_scheduler.a")
endif()

# 1. CMake: find_package(weft) and weft::weft.
step(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/consumer" -B "${WORK_DIR}/build" -G Ninja
     "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_COMPILER=${CXX}")
step(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
step("${WORK_DIR}/build/consumer")
expect_consumer_output("find_package")

# 2. pkg-config, as a Makefile or another build system would use it.
find_program(PKG_CONFIG pkg-config REQUIRED)
file(GLOB pc_dirs "${prefix}/lib*/pkgconfig" "${prefix}/lib/*/pkgconfig")
if(NOT pc_dirs)
    message(FATAL_ERROR "install test: no pkgconfig directory under ${prefix}")
endif()
set(ENV{PKG_CONFIG_PATH} "${pc_dirs}")
step(${PKG_CONFIG} --modversion weft)
set(pc_version "${step_output}")
step(${PKG_CONFIG} --cflags --libs weft)
separate_arguments(pc_flags UNIX_COMMAND "${step_output}")
step(${PKG_CONFIG} --variable=libdir weft)
set(pc_libdir "${step_output}")
step(${CXX} -std=c++20 "${SOURCE_DIR}/tests/install/consumer/main.cpp" ${pc_flags}
     -o "${WORK_DIR}/consumer-pkg-config")
step(${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${pc_libdir}" "${WORK_DIR}/consumer-pkg-config")
expect_consumer_output("pkg-config")
if(NOT step_output MATCHES "version ${pc_version}$")
    message(FATAL_ERROR "install test: pkg-config says ${pc_version}, the library ${step_output}")
endif()

# weft::cli (weft/cli.hpp and CLI11), which the consumer's cli_consumer links.
step("${WORK_DIR}/build/cli_consumer" --threads 2)
if(NOT step_output MATCHES "cli consumer ok 42 threads=2")
    message(FATAL_ERROR "install test: unexpected output: ${step_output}")
endif()
message(STATUS "install test: ${step_output}")

# weft without its cli component must not need CLI11: configure the consumer
# again with CLI11 hidden from find_package.
step(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/consumer" -B "${WORK_DIR}/build-no-cli"
     -G Ninja "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_COMPILER=${CXX}"
     -DWEFT_CONSUMER_CLI=OFF -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON)
message(STATUS "install test: find_package(weft) works without CLI11")
