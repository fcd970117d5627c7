# cmake -DBUILD_DIR=... -DPREFIX=... -DSOURCE_DIR=... [-DCONFIG=...] -P install_into_prefix.cmake
# Installs a configured lsk build into a fresh PREFIX, then checks the tree:
# the headers and package files are there, and no installed CMake file
# refers back to the source or build directory.
foreach(v BUILD_DIR PREFIX SOURCE_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "install_into_prefix.cmake: ${v} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${PREFIX}")
set(config_args)
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config_args}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()

foreach(f include/lsk/recipe.hpp include/lsk/config.hpp include/lsk/testing/conformance.hpp
          include/lsk/backends/reference/backend.hpp include/lsk/backends/cpu/backend.hpp)
  if(NOT EXISTS "${PREFIX}/${f}")
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()

file(GLOB_RECURSE package_files "${PREFIX}/*lskConfig.cmake")
list(LENGTH package_files n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one lskConfig.cmake under ${PREFIX}, found: ${package_files}")
endif()
get_filename_component(package_dir "${package_files}" DIRECTORY)
foreach(f lskConfigVersion.cmake lskTargets.cmake)
  if(NOT EXISTS "${package_dir}/${f}")
    message(FATAL_ERROR "not installed: ${package_dir}/${f}")
  endif()
endforeach()

file(GLOB cmake_files "${package_dir}/*.cmake")
foreach(f IN LISTS cmake_files)
  file(READ "${f}" text)
  foreach(dir "${SOURCE_DIR}" "${BUILD_DIR}")
    string(FIND "${text}" "${dir}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${f} refers to ${dir}: the installed package must not depend on the build")
    endif()
  endforeach()
endforeach()
message(STATUS "lsk installed into ${PREFIX} (package in ${package_dir})")
