// lsk/backends/cuda/ring_kernels.hpp: the element-wise kernels of the device
// ring attention (lsk/backends/cuda/ring_attention.hpp), declared for host
// code; defined in backends/cuda/src/ring_kernels.cu.
//
// ring_merge_partial: rows of head_dim values, one lse per row. Merges a
// partial result (bf16 part_out, f32 part_lse) into an f32 accumulator
// (out, lse), as lsk::attention::merge_partial does on the host:
//   m = max(lse, part_lse); wa = exp(lse - m); wb = exp(part_lse - m)
//   out = (wa out + wb part_out) / (wa + wb);  lse = m + log(wa + wb)
// rows with part_lse = -inf are left alone; rows with lse = -inf take the
// partial. One warp per row; f32 arithmetic.
// accumulate_bf16: acc[i] += f32(x[i]) (one thread per element, exact widening,
// one f32 rounding per add). fill_f32: x[i] = value.
// Every function enqueues on `stream` and returns; launch errors throw
// lsk::cuda_error.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "lsk/core/bf16.hpp"

namespace lsk::cuda {

void ring_merge_partial(const bf16* part_out, const float* part_lse, float* out, float* lse, std::size_t rows,
                        int head_dim, cudaStream_t stream = nullptr);
void accumulate_bf16(const bf16* x, float* acc, std::size_t n, cudaStream_t stream = nullptr);
void fill_f32(float* x, std::size_t n, float value, cudaStream_t stream = nullptr);

}  // namespace lsk::cuda
