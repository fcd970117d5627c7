// backends/cuda/src/convert.cu: f32 <-> bf16 conversion kernels and their host
// launchers (declared in lsk/backends/cuda/convert.hpp).
//
// Algorithm: element-wise, grid-stride loops, 256 threads per block, at most
// 65536 blocks. When both pointers are aligned (f32 on 16 bytes, bf16 on 8),
// each thread moves four elements per step with one 16-byte f32 access and one
// 8-byte bf16 access, and the first n % 4 threads of the grid convert the tail;
// otherwise a one-element-per-thread kernel runs. Memory-bound: 6 bytes move
// per element, so the target is the device's copy bandwidth.
// Numerics: lsk::bf16::round_from_float / to_float (see bf16_convert.cuh):
// round to nearest even, NaN kept NaN, exact widening; identical to the host.
// Benchmark: convert a buffer of 2^28 floats and divide 6 * 2^28 bytes by the
// time between two cudaEvents (a bench/cuda program is still to come).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "bf16_convert.cuh"
#include "lsk/backends/cuda/convert.hpp"
#include "lsk/backends/cuda/error.hpp"

namespace lsk::cuda {
namespace {

constexpr unsigned threads_per_block = 256;
constexpr std::size_t max_blocks = 65536;

// At least one block, so that a vec4 launch always has the n % 4 < 4 tail threads.
unsigned blocks_for(std::size_t work_items) {
  const std::size_t blocks = (work_items + threads_per_block - 1) / threads_per_block;
  return static_cast<unsigned>(std::clamp<std::size_t>(blocks, 1, max_blocks));
}

bool aligned(const void* p, std::size_t bytes) { return reinterpret_cast<std::uintptr_t>(p) % bytes == 0; }

__device__ __forceinline__ std::size_t thread_index() {
  return static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ std::size_t grid_stride() { return static_cast<std::size_t>(gridDim.x) * blockDim.x; }

// (i) -> in[i], out[i]; any alignment.
__global__ void f32_to_bf16_scalar(const float* __restrict__ in, std::uint16_t* __restrict__ out, std::size_t n) {
  for (std::size_t i = thread_index(); i < n; i += grid_stride()) out[i] = bf16::round_from_float(in[i]);
}

// (group g) -> in[4g .. 4g+3] as one float4, out[4g .. 4g+3] as one uint2; tail by the first n % 4 threads.
__global__ void f32_to_bf16_vec4(const float* __restrict__ in, std::uint16_t* __restrict__ out, std::size_t n) {
  const std::size_t groups = n / 4;
  const auto* in4 = reinterpret_cast<const float4*>(in);
  auto* out4 = reinterpret_cast<uint2*>(out);
  for (std::size_t g = thread_index(); g < groups; g += grid_stride()) out4[g] = device::pack_bf16x4(in4[g]);
  const std::size_t tail = thread_index();
  if (tail < n % 4) out[groups * 4 + tail] = bf16::round_from_float(in[groups * 4 + tail]);
}

__global__ void bf16_to_f32_scalar(const std::uint16_t* __restrict__ in, float* __restrict__ out, std::size_t n) {
  for (std::size_t i = thread_index(); i < n; i += grid_stride()) out[i] = bf16::to_float(in[i]);
}

__global__ void bf16_to_f32_vec4(const std::uint16_t* __restrict__ in, float* __restrict__ out, std::size_t n) {
  const std::size_t groups = n / 4;
  const auto* in4 = reinterpret_cast<const uint2*>(in);
  auto* out4 = reinterpret_cast<float4*>(out);
  for (std::size_t g = thread_index(); g < groups; g += grid_stride()) out4[g] = device::unpack_bf16x4(in4[g]);
  const std::size_t tail = thread_index();
  if (tail < n % 4) out[groups * 4 + tail] = bf16::to_float(in[groups * 4 + tail]);
}

void require_pointers(const char* what, const void* in, const void* out, std::size_t n) {
  if (in == nullptr || out == nullptr) {
    raise<error>("cuda::", what, ": null ", in == nullptr ? "input" : "output", " pointer for ", n, " elements");
  }
}

}  // namespace

// bf16 is a standard-layout wrapper of one std::uint16_t; kernels address its bits directly.
static_assert(sizeof(bf16) == sizeof(std::uint16_t) && alignof(bf16) == alignof(std::uint16_t));

void f32_to_bf16(const float* in, bf16* out, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  require_pointers("f32_to_bf16", in, out, n);
  auto* out_bits = reinterpret_cast<std::uint16_t*>(out);
  if (aligned(in, 16) && aligned(out, 8)) {
    f32_to_bf16_vec4<<<blocks_for(n / 4), threads_per_block, 0, stream>>>(in, out_bits, n);
    check(cudaGetLastError(), "f32_to_bf16_vec4<<<...>>>", __FILE__, __LINE__);
  } else {
    f32_to_bf16_scalar<<<blocks_for(n), threads_per_block, 0, stream>>>(in, out_bits, n);
    check(cudaGetLastError(), "f32_to_bf16_scalar<<<...>>>", __FILE__, __LINE__);
  }
}

void bf16_to_f32(const bf16* in, float* out, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  require_pointers("bf16_to_f32", in, out, n);
  const auto* in_bits = reinterpret_cast<const std::uint16_t*>(in);
  if (aligned(in, 8) && aligned(out, 16)) {
    bf16_to_f32_vec4<<<blocks_for(n / 4), threads_per_block, 0, stream>>>(in_bits, out, n);
    check(cudaGetLastError(), "bf16_to_f32_vec4<<<...>>>", __FILE__, __LINE__);
  } else {
    bf16_to_f32_scalar<<<blocks_for(n), threads_per_block, 0, stream>>>(in_bits, out, n);
    check(cudaGetLastError(), "bf16_to_f32_scalar<<<...>>>", __FILE__, __LINE__);
  }
}

}  // namespace lsk::cuda
