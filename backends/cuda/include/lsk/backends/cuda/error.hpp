// lsk/backends/cuda/error.hpp: CUDA runtime failures as lsk exceptions.
//
// Host code (compiles with any C++20 compiler; needs only the CUDA runtime
// headers). Every checked CUDA runtime call that fails throws lsk::cuda_error,
// whose message names the call as written, the file and line of the check, the
// error's symbolic name, its number and the runtime's description, e.g.
//   cudaMalloc(&p, bytes) failed at device_buffer.hpp:63: cudaErrorMemoryAllocation (2): out of memory
//
//   LSK_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
//   lsk::cuda::check(cudaGetLastError(), "my_kernel<<<...>>>", __FILE__, __LINE__);
#pragma once

#include <cuda_runtime_api.h>

#include <string>
#include <string_view>

#include "lsk/core/error.hpp"

namespace lsk {

// A CUDA runtime call failed (no driver, no device, out of memory, a kernel
// fault, ...). code() is the runtime's error code.
class cuda_error : public error {
 public:
  cuda_error(cudaError_t code, const std::string& message) : error(message), code_(code) {}
  cudaError_t code() const noexcept { return code_; }

 private:
  cudaError_t code_;
};

namespace cuda {

// "<call> failed at <file>:<line>: <name> (<number>): <description>". Works
// without a driver or device: the runtime's name and description tables are
// plain host lookups.
inline std::string error_message(cudaError_t code, std::string_view call, std::string_view file, int line) {
  const char* name = cudaGetErrorName(code);
  const char* text = cudaGetErrorString(code);
  return detail::concat(call, " failed at ", file, ':', line, ": ", name != nullptr ? name : "unknown CUDA error", " (",
                        static_cast<int>(code), "): ", text != nullptr ? text : "");
}

// Throws cuda_error when code is not cudaSuccess. A failed runtime call also
// leaves its code as the thread's "last error"; it is cleared here so that a
// later cudaGetLastError() check (after a kernel launch) does not report the
// same failure a second time. Sticky errors (a faulted context, a runtime
// that could not initialise for lack of a driver) keep being reported.
inline void check(cudaError_t code, std::string_view call, std::string_view file, int line) {
  if (code == cudaSuccess) return;
  static_cast<void>(cudaGetLastError());
  throw cuda_error(code, error_message(code, call, file, line));
}

}  // namespace cuda
}  // namespace lsk

// Checks a CUDA runtime call; the message carries the call's source text.
#define LSK_CUDA_CHECK(...) ::lsk::cuda::check((__VA_ARGS__), #__VA_ARGS__, __FILE__, __LINE__)
