// lsk/backends/cuda/convert.hpp: f32 <-> bf16 conversion on the device.
//
// Host declarations (compile with any C++20 compiler); the kernels live in
// backends/cuda/src/convert.cu and are linked from the lsk::cuda library.
// Numerics are those of lsk::bf16, bit for bit: f32 -> bf16 rounds to nearest,
// ties to even, overflows to infinity where IEEE rounding does, and keeps NaNs
// NaN (sign kept, quiet bit forced); bf16 -> f32 is exact.
//
// The pointer functions take device pointers to n elements, enqueue the work
// on `stream` and return without waiting; n == 0 does nothing. Launch errors
// throw lsk::cuda_error; faults inside the kernel surface at the next
// synchronizing call. Aligned pointers (f32 on 16 bytes, bf16 on 8) take a
// four-elements-per-thread path; any other alignment works, more slowly.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/core/bf16.hpp"
#include "lsk/core/error.hpp"

namespace lsk::cuda {

void f32_to_bf16(const float* in, bf16* out, std::size_t n, cudaStream_t stream = nullptr);
void bf16_to_f32(const bf16* in, float* out, std::size_t n, cudaStream_t stream = nullptr);

// Buffer forms: the two buffers must have the same number of elements.
inline void f32_to_bf16(const device_buffer<float>& in, device_buffer<bf16>& out, cudaStream_t stream = nullptr) {
  if (in.size() != out.size()) {
    raise<shape_error>("cuda::f32_to_bf16: input has ", in.size(), " elements, output ", out.size());
  }
  f32_to_bf16(in.data(), out.data(), in.size(), stream);
}

inline void bf16_to_f32(const device_buffer<bf16>& in, device_buffer<float>& out, cudaStream_t stream = nullptr) {
  if (in.size() != out.size()) {
    raise<shape_error>("cuda::bf16_to_f32: input has ", in.size(), " elements, output ", out.size());
  }
  bf16_to_f32(in.data(), out.data(), in.size(), stream);
}

}  // namespace lsk::cuda
