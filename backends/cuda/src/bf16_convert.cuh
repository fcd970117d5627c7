// backends/cuda/src/bf16_convert.cuh: per-thread f32 <-> bf16 packing helpers
// for kernels (device code, nvcc only).
//
// Algorithm: each helper converts four values held in registers; the scalar
// work is lsk::bf16::round_from_float / lsk::bf16::to_float, the same
// LSK_HOST_DEVICE definitions the host uses, so device results equal host
// results bit for bit (no __float2bfloat16 intrinsics, whose NaN handling is
// not specified to match).
// Numerics: round to nearest, ties to even, by integer arithmetic on the bit
// pattern (add 0x7FFF + the kept lsb, truncate); exact in the other direction.
// Layout: four bf16 values are packed little-endian into a uint2,
//   element k -> bits [16 * (k % 2), 16 * (k % 2) + 16) of word k / 2.
#pragma once

#include <cstdint>

#include "lsk/core/bf16.hpp"

namespace lsk::cuda::device {

__device__ __forceinline__ std::uint32_t pack_bf16x2(float lo, float hi) {
  return static_cast<std::uint32_t>(bf16::round_from_float(lo)) |
         (static_cast<std::uint32_t>(bf16::round_from_float(hi)) << 16);
}

__device__ __forceinline__ uint2 pack_bf16x4(float4 v) {
  return make_uint2(pack_bf16x2(v.x, v.y), pack_bf16x2(v.z, v.w));
}

__device__ __forceinline__ float bf16_low_to_f32(std::uint32_t word) {
  return bf16::to_float(static_cast<std::uint16_t>(word & 0xFFFFu));
}

__device__ __forceinline__ float bf16_high_to_f32(std::uint32_t word) {
  return bf16::to_float(static_cast<std::uint16_t>(word >> 16));
}

__device__ __forceinline__ float4 unpack_bf16x4(uint2 w) {
  return make_float4(bf16_low_to_f32(w.x), bf16_high_to_f32(w.x), bf16_low_to_f32(w.y), bf16_high_to_f32(w.y));
}

}  // namespace lsk::cuda::device
