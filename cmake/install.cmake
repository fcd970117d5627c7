# Install rules and the CMake package of lsk (included by the top-level
# CMakeLists.txt after every library target exists, when LSK_INSTALL is on).
#
#   <prefix>/include/lsk/...                 headers: core, ops, testing, and the
#                                            reference, cpu (and cuda) backends
#   <prefix>/share/cmake/lsk/                lskConfig.cmake, lskConfigVersion.cmake,
#                                            lskTargets.cmake (lsk::lsk, lsk::testing,
#                                            lsk::cuda in a CUDA build)
# The build tree gets the same package (export(EXPORT)), so a consumer may
# point lsk_DIR at a configured build directory instead of installing.
#
# The package is architecture-independent (headers only) unless the cuda
# target compiles code; then it goes to <libdir>/cmake/lsk instead.
include(CMakePackageConfigHelpers)

set(LSK_PACKAGE_HAS_CUDA FALSE)
set(_lsk_arch_independent ARCH_INDEPENDENT)
set(_lsk_package_dir "${CMAKE_INSTALL_DATADIR}/cmake/lsk")
if(TARGET lsk_cuda)
  set(LSK_PACKAGE_HAS_CUDA TRUE)
  get_target_property(_lsk_cuda_type lsk_cuda TYPE)
  if(NOT _lsk_cuda_type STREQUAL "INTERFACE_LIBRARY")
    set(_lsk_arch_independent "")
    set(_lsk_package_dir "${CMAKE_INSTALL_LIBDIR}/cmake/lsk")
  endif()
endif()
set(LSK_INSTALL_CMAKEDIR "${_lsk_package_dir}" CACHE STRING
    "Where lsk's CMake package (lskConfig.cmake) is installed, relative to the prefix")

# ---- headers ------------------------------------------------------------------
set(_lsk_header_dirs
  "${PROJECT_SOURCE_DIR}/include/"
  "${PROJECT_SOURCE_DIR}/backends/reference/include/"
  "${PROJECT_SOURCE_DIR}/backends/cpu/include/")
if(TARGET lsk_cuda AND EXISTS "${PROJECT_SOURCE_DIR}/backends/cuda/include")
  list(APPEND _lsk_header_dirs "${PROJECT_SOURCE_DIR}/backends/cuda/include/")
endif()
install(DIRECTORY ${_lsk_header_dirs}
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  COMPONENT lsk_development
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h" PATTERN "*.cuh")

# ---- targets -------------------------------------------------------------------
set_target_properties(lsk PROPERTIES EXPORT_NAME lsk)
set_target_properties(lsk_testing PROPERTIES EXPORT_NAME testing)
set(_lsk_exported lsk lsk_testing)
if(TARGET lsk_cuda)
  set_target_properties(lsk_cuda PROPERTIES EXPORT_NAME cuda)
  list(APPEND _lsk_exported lsk_cuda)
endif()
install(TARGETS ${_lsk_exported}
  EXPORT lskTargets
  COMPONENT lsk_development
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(EXPORT lskTargets
  NAMESPACE lsk::
  DESTINATION "${LSK_INSTALL_CMAKEDIR}"
  COMPONENT lsk_development)

# ---- package files ----------------------------------------------------------------
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/lskConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/lsk-package/lskConfig.cmake"
  INSTALL_DESTINATION "${LSK_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/lskConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion
  ${_lsk_arch_independent})
install(FILES
  "${PROJECT_BINARY_DIR}/lsk-package/lskConfig.cmake"
  "${PROJECT_BINARY_DIR}/lskConfigVersion.cmake"
  DESTINATION "${LSK_INSTALL_CMAKEDIR}"
  COMPONENT lsk_development)

# ---- the build-tree package: lsk_DIR=<build dir> ---------------------------------------
export(EXPORT lskTargets
  NAMESPACE lsk::
  FILE "${PROJECT_BINARY_DIR}/lskTargets.cmake")
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/lskConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/lskConfig.cmake"
  INSTALL_DESTINATION "${PROJECT_BINARY_DIR}"
  INSTALL_PREFIX "${PROJECT_BINARY_DIR}")

unset(_lsk_arch_independent)
unset(_lsk_package_dir)
unset(_lsk_header_dirs)
unset(_lsk_exported)
unset(_lsk_cuda_type)
