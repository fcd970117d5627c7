// lsk/backends/cuda/device.hpp: which CUDA devices exist, and selecting one.
//
// Host code (compiles with any C++20 compiler). probe_devices() and
// has_device() never throw, so programs and tests can ask "is there a GPU?" on
// machines with no driver or no device (CI builds the CUDA targets on such
// machines); the other functions throw lsk::cuda_error on any runtime failure.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "lsk/backends/cuda/error.hpp"

namespace lsk::cuda {

// What cudaGetDeviceCount reported. status is cudaErrorNoDevice without a GPU
// and typically cudaErrorInsufficientDriver without a driver.
struct device_probe {
  int count = 0;
  cudaError_t status = cudaSuccess;

  bool available() const noexcept { return status == cudaSuccess && count > 0; }

  // "1 CUDA device" or "no CUDA device (cudaErrorNoDevice: no CUDA-capable device is detected)".
  std::string describe() const {
    if (available()) return detail::concat(count, count == 1 ? " CUDA device" : " CUDA devices");
    if (status == cudaSuccess) return "no CUDA device (the runtime reports 0 devices)";
    return detail::concat("no CUDA device (", cudaGetErrorName(status), ": ", cudaGetErrorString(status), ")");
  }
};

inline device_probe probe_devices() noexcept {
  device_probe p;
  p.status = cudaGetDeviceCount(&p.count);
  if (p.status != cudaSuccess) {
    p.count = 0;
    static_cast<void>(cudaGetLastError());  // leave no pending error behind
  }
  return p;
}

// True when at least one CUDA device is usable; false (never an exception)
// when there is no driver, no device, or the runtime cannot start.
inline bool has_device() noexcept { return probe_devices().available(); }

// Number of CUDA devices; throws cuda_error when the runtime reports an error
// (including "no device" and "no driver": use probe_devices() to tolerate them).
inline int device_count() {
  int n = 0;
  LSK_CUDA_CHECK(cudaGetDeviceCount(&n));
  return n;
}

inline int current_device() {
  int d = 0;
  LSK_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

inline void set_device(int device) { LSK_CUDA_CHECK(cudaSetDevice(device)); }

// Waits for all work on the current device; reports asynchronous kernel faults.
inline void synchronize() { LSK_CUDA_CHECK(cudaDeviceSynchronize()); }

inline std::string device_name(int device) {
  cudaDeviceProp prop{};
  LSK_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

}  // namespace lsk::cuda
