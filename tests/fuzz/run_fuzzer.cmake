# Runs one fuzzer for SECONDS over a copy of its seed corpus (cmake -P; see
# tests/fuzz/CMakeLists.txt). What it finds stays in WORK_DIR: new corpus
# entries in WORK_DIR/corpus, a crashing input as WORK_DIR/crash-<sha1> (or
# leak-, timeout-, oom-), which the failure message names.
foreach(var FUZZER CORPUS WORK_DIR SECONDS)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "run_fuzzer.cmake: ${var} is not set")
    endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/corpus")
file(GLOB seeds "${CORPUS}/*")
if(seeds)
    file(COPY ${seeds} DESTINATION "${WORK_DIR}/corpus")
endif()
# -timeout: one input running this long is a hang. -rss_limit_mb: what a
# decoder may allocate for garbage is bounded well below this.
execute_process(
    COMMAND "${FUZZER}" -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048
            -print_final_stats=1 "-artifact_prefix=${WORK_DIR}/" "${WORK_DIR}/corpus"
    RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    file(GLOB found "${WORK_DIR}/crash-*" "${WORK_DIR}/leak-*" "${WORK_DIR}/timeout-*"
         "${WORK_DIR}/oom-*")
    message(FATAL_ERROR "${FUZZER} failed (${rc}); the input: ${found}\n"
                        "Reproduce with: ${FUZZER} <input>. Then add the input to ${CORPUS} "
                        "(docs/fuzzing.md) and fix the bug.")
endif()
