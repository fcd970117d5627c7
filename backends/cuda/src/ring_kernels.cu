// backends/cuda/src/ring_kernels.cu: the merge and accumulate kernels of the
// device ring attention (declared, with their numerics, in
// lsk/backends/cuda/ring_kernels.hpp).
// Algorithm: ring_merge_partial gives each row to one warp (lanes stride over
// head_dim; lane 0 writes the row's lse after the warp has read the old one);
// accumulate_bf16 and fill_f32 are grid-stride element-wise loops. Memory-bound.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "lsk/backends/cuda/error.hpp"
#include "lsk/backends/cuda/ring_kernels.hpp"

namespace lsk::cuda {
namespace {

constexpr unsigned threads_per_block = 256;
constexpr unsigned warps_per_block = threads_per_block / 32;
constexpr std::size_t max_blocks = 65535;

__global__ void ring_merge_partial_kernel(const std::uint16_t* __restrict__ part_out,
                                          const float* __restrict__ part_lse, float* __restrict__ out,
                                          float* __restrict__ lse, std::size_t rows, int head_dim) {
  const unsigned lane = threadIdx.x % 32;
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * warps_per_block + threadIdx.x / 32;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * warps_per_block;
  for (std::size_t row = first; row < rows; row += stride) {
    const float a = lse[row], b = part_lse[row];
    if (b == -INFINITY) continue;  // the partial saw no key
    float* o = out + row * static_cast<std::size_t>(head_dim);
    const std::uint16_t* p = part_out + row * static_cast<std::size_t>(head_dim);
    float merged;
    if (a == -INFINITY) {
      for (int e = static_cast<int>(lane); e < head_dim; e += 32) o[e] = bf16::to_float(p[e]);
      merged = b;
    } else {
      const float m = fmaxf(a, b);
      const float wa = expf(a - m), wb = expf(b - m), sum = wa + wb;
      const float ca = wa / sum, cb = wb / sum;
      for (int e = static_cast<int>(lane); e < head_dim; e += 32) o[e] = ca * o[e] + cb * bf16::to_float(p[e]);
      merged = m + logf(sum);
    }
    __syncwarp();  // every lane has read the old lse
    if (lane == 0) lse[row] = merged;
  }
}

__global__ void accumulate_bf16_kernel(const std::uint16_t* __restrict__ x, float* __restrict__ acc, std::size_t n) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    acc[i] += bf16::to_float(x[i]);
}

__global__ void fill_f32_kernel(float* __restrict__ x, std::size_t n, float value) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    x[i] = value;
}

unsigned blocks(std::size_t items, std::size_t per_block) {
  return static_cast<unsigned>(std::clamp<std::size_t>((items + per_block - 1) / per_block, 1, max_blocks));
}

}  // namespace

void ring_merge_partial(const bf16* part_out, const float* part_lse, float* out, float* lse, std::size_t rows,
                        int head_dim, cudaStream_t stream) {
  if (rows == 0) return;
  if (part_out == nullptr || part_lse == nullptr || out == nullptr || lse == nullptr || head_dim <= 0) {
    raise<error>("cuda::ring_merge_partial: null pointer or head_dim ", head_dim);
  }
  ring_merge_partial_kernel<<<blocks(rows, warps_per_block), threads_per_block, 0, stream>>>(
      reinterpret_cast<const std::uint16_t*>(part_out), part_lse, out, lse, rows, head_dim);
  check(cudaGetLastError(), "ring_merge_partial_kernel<<<...>>>", __FILE__, __LINE__);
}

void accumulate_bf16(const bf16* x, float* acc, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  if (x == nullptr || acc == nullptr) raise<error>("cuda::accumulate_bf16: null pointer for ", n, " elements");
  accumulate_bf16_kernel<<<blocks(n, threads_per_block), threads_per_block, 0, stream>>>(
      reinterpret_cast<const std::uint16_t*>(x), acc, n);
  check(cudaGetLastError(), "accumulate_bf16_kernel<<<...>>>", __FILE__, __LINE__);
}

void fill_f32(float* x, std::size_t n, float value, cudaStream_t stream) {
  if (n == 0) return;
  if (x == nullptr) raise<error>("cuda::fill_f32: null pointer for ", n, " elements");
  fill_f32_kernel<<<blocks(n, threads_per_block), threads_per_block, 0, stream>>>(x, n, value);
  check(cudaGetLastError(), "fill_f32_kernel<<<...>>>", __FILE__, __LINE__);
}

}  // namespace lsk::cuda
