// backends/cuda/tests/sm80_device.hpp: the device check of the tests of the
// sm_80+ kernels (flash attention, ring attention).
#pragma once

#include <cuda_runtime_api.h>

#include <catch2/catch.hpp>

#include "lsk/backends/cuda/device.hpp"
#include "lsk/backends/cuda/error.hpp"

// False, with a visible "skipped: ..." warning, when no GPU of compute
// capability 8.0 or newer can be used (the caller then ends the test case).
inline bool sm80_device_available() {
  const auto probe = lsk::cuda::probe_devices();
  if (!probe.available()) {
    WARN("skipped: " << probe.describe());
    return false;
  }
  cudaDeviceProp prop{};
  LSK_CUDA_CHECK(cudaGetDeviceProperties(&prop, lsk::cuda::current_device()));
  if (prop.major < 8) {
    WARN("skipped: no CUDA device of compute capability 8.0 or newer (found " << prop.major << "." << prop.minor
                                                                              << ")");
    return false;
  }
  return true;
}
