# `cmake --install` puts headers, libraries, a CMake package and a pkg-config
# file in the prefix, so that an outside project can find_package(weft) and
# link weft::weft, or ask `pkg-config --cflags --libs weft`.
include(CMakePackageConfigHelpers)

# Shared libraries (BUILD_SHARED_LIBS=ON) carry the version; while weft is
# 0.x a minor version may change the ABI, so the soname names major.minor.
set_target_properties(weft_scheduler weft_io weft_executors PROPERTIES
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})

# weft::cli (weft/cli.hpp) is exported with the rest; only it names CLI11,
# which find_package(weft COMPONENTS cli) requires (weftConfig.cmake.in).
# weft::tls with them when OpenSSL 3 was found: weft::io's TLS streams link it.
set(WEFT_INSTALL_TARGETS weft weft_cli weft_scheduler weft_io weft_executors)
set(WEFT_INSTALL_INCLUDES include/ scheduler/include/ io/include/ executors/include/)
set(WEFT_HAVE_TLS OFF)
if(TARGET weft_tls)
    set(WEFT_HAVE_TLS ON)
    list(APPEND WEFT_INSTALL_TARGETS weft_tls)
    list(APPEND WEFT_INSTALL_INCLUDES tls/include/)
    set_target_properties(weft_tls PROPERTIES
        VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
endif()
install(TARGETS ${WEFT_INSTALL_TARGETS}
        EXPORT weftTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# weft::mpi_executor is built only where MPI is found and is not installed
# (yet), so neither is its header.
install(DIRECTORY ${WEFT_INSTALL_INCLUDES}
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp"
        PATTERN "mpi_world.hpp" EXCLUDE PATTERN "mpi_executor.hpp" EXCLUDE)
install(FILES ${WEFT_GENERATED_INCLUDE_DIR}/weft/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/weft)
install(EXPORT weftTargets NAMESPACE weft:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weft)

configure_package_config_file(cmake/weftConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/weftConfig.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weft)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/weftConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/weftConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/weftConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weft)

# A static weft needs oneTBB on the consumer's link line; a shared one links
# it itself.
# liburing likewise, when the io_uring backend is built.
set(WEFT_PC_REQUIRES "tbb")
if(WEFT_HAVE_URING)
    string(APPEND WEFT_PC_REQUIRES " liburing")
endif()
set(WEFT_PC_TLS_LIB "")
if(WEFT_HAVE_TLS)
    string(APPEND WEFT_PC_REQUIRES " libssl")
    set(WEFT_PC_TLS_LIB " -lweft_tls")
endif()
if(BUILD_SHARED_LIBS)
    set(WEFT_PC_TBB "Requires.private: ${WEFT_PC_REQUIRES}")
else()
    set(WEFT_PC_TBB "Requires: ${WEFT_PC_REQUIRES}")
endif()
file(RELATIVE_PATH WEFT_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(cmake/weft.pc.in ${CMAKE_CURRENT_BINARY_DIR}/weft.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/weft.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
