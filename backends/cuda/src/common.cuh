// backends/cuda/src/common.cuh: launch sizes, launch checks, math overloads and
// block reductions shared by the backend's kernels (device code, nvcc only).
//
// Reductions: a block adds (or maximises) one value per thread with warp
// shuffles and one shared-memory pass over the warps' results; the order is
// fixed by the block size, so results are reproducible run to run.
#pragma once

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "lsk/backends/cuda/error.hpp"
#include "lsk/core/shape.hpp"

namespace lsk::cuda::device {

inline constexpr int block_threads = 256;          // threads per block of every backend kernel
inline constexpr int max_grid_blocks = 65535 * 8;  // grid-stride loops above this
inline constexpr int warp_size = 32;

// Blocks for one element per thread, capped (the kernels loop with a grid stride).
inline unsigned int blocks_for(index_t n) {
  const index_t b = (n + block_threads - 1) / block_threads;
  return static_cast<unsigned int>(b < max_grid_blocks ? b : max_grid_blocks);
}

// Row counts are grid.x extents (at most 2^31 - 1).
inline void require_grid_rows(const char* op, index_t rows) {
  if (rows > index_t{0x7fffffff}) raise<shape_error>("cuda::", op, ": ", rows, " rows exceed one grid dimension");
}

// Checks that the kernel launch just made was accepted.
#define LSK_CUDA_CHECK_LAUNCH(kernel) ::lsk::cuda::check(cudaGetLastError(), kernel "<<<...>>>", __FILE__, __LINE__)

__device__ __forceinline__ index_t global_index() {
  return static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ index_t global_stride() { return static_cast<index_t>(gridDim.x) * blockDim.x; }

// exp in the argument's precision (expf / exp, a few ulp) and fused multiply-add.
__device__ __forceinline__ float exp_of(float v) { return expf(v); }
__device__ __forceinline__ double exp_of(double v) { return exp(v); }
template <class T>
__device__ __forceinline__ T quiet_nan() {
  if constexpr (std::is_same_v<T, float>) {
    return __int_as_float(0x7fc00000);
  } else {
    return __longlong_as_double(0x7ff8000000000000LL);
  }
}
__device__ __forceinline__ float fma_of(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fma_of(double a, double b, double c) { return fma(a, b, c); }

// Sum of v over the block (blockDim.x == block_threads); every thread gets it.
// `shared` must hold block_threads / warp_size doubles. Ends with a barrier, so
// the caller may reuse `shared` right after.
__device__ __forceinline__ double block_sum(double v, double* shared) {
  for (int offset = warp_size / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int lane = static_cast<int>(threadIdx.x) % warp_size, warp = static_cast<int>(threadIdx.x) / warp_size;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  double total = 0.0;
  for (int w = 0; w < block_threads / warp_size; ++w) total += shared[w];
  __syncthreads();
  return total;
}

// Maximum of v over the block (NaN-ignoring like fmax), as block_sum.
__device__ __forceinline__ double block_max(double v, double* shared) {
  for (int offset = warp_size / 2; offset > 0; offset /= 2) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, offset));
  const int lane = static_cast<int>(threadIdx.x) % warp_size, warp = static_cast<int>(threadIdx.x) / warp_size;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  double m = shared[0];
  for (int w = 1; w < block_threads / warp_size; ++w) m = fmax(m, shared[w]);
  __syncthreads();
  return m;
}

// Stream-ordered temporary device memory (cudaMallocAsync / cudaFreeAsync):
// freed on the stream when it goes out of scope, after the work enqueued
// before that point.
class scratch {
 public:
  scratch(std::size_t bytes, cudaStream_t stream) : stream_(stream) {
    if (bytes > 0) LSK_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes, stream));
  }
  ~scratch() {
    if (ptr_ != nullptr) static_cast<void>(cudaFreeAsync(ptr_, stream_));
  }
  scratch(const scratch&) = delete;
  scratch& operator=(const scratch&) = delete;
  template <class T>
  T* as() const noexcept {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

}  // namespace lsk::cuda::device
