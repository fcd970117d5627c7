# vcpkg overlay port for lsk (header-only). The source is the lsk checkout that
# holds this port (vcpkg/ports/lsk/../../..), so use it from a clone:
#   vcpkg install lsk --overlay-ports=<lsk clone>/vcpkg/ports
# To package a release archive instead, replace SOURCE_PATH below with
# vcpkg_from_git(OUT_SOURCE_PATH SOURCE_PATH URL <repository> REF <commit>).
#
# The package is lsk's own CMake package (find_package(lsk CONFIG), targets
# lsk::lsk and lsk::testing) built without the optional parts: no OpenBLAS
# (not a declared dependency, so LSK_CPU_HAS_CBLAS is never defined) and no
# CUDA. OpenMP is used when the toolchain has it.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT EXISTS "${SOURCE_PATH}/include/lsk/recipe.hpp")
  message(FATAL_ERROR "lsk port: no lsk source tree at ${SOURCE_PATH}; use the port from a clone of lsk")
endif()

set(VCPKG_BUILD_TYPE release)  # headers only: one configuration is enough

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DLSK_INSTALL=ON
    -DLSK_BUILD_TESTS=OFF
    -DLSK_BUILD_BENCH=OFF
    -DLSK_BUILD_EXAMPLES=OFF
    -DLSK_ENABLE_CUDA=OFF
    -DLSK_CPU_BLAS=OFF)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME lsk CONFIG_PATH share/cmake/lsk)

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/lib" "${CURRENT_PACKAGES_DIR}/debug")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
if(EXISTS "${SOURCE_PATH}/LICENSE")
  vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
else()
  file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright"
       "lsk: this source tree has no LICENSE file; see the lsk repository for its terms.\n")
endif()
