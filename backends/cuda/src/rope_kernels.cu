// backends/cuda/src/rope_kernels.cu: rotary position embedding, forward and backward.
//
// Algorithm: one thread per (token, head, unit), where a head has head_dim -
// half units: unit i < half is rotated pair i (dims i, i + half for
// rotate_half; 2i, 2i + 1 for interleaved), read and written by that thread
// only (so y may be x), and unit i >= half copies dim i + half (dims >=
// rotary_dim pass through). Numerics: in the input precision,
// y_a = x_a c - x_b s, y_b = x_b c + x_a s with s = sign * sin (sign -1: the
// transpose, for backward). A position outside the tables gives NaN outputs
// for that token's rotated dims.
#include "common.cuh"
#include "lsk/backends/cuda/kernels.hpp"

namespace lsk::cuda::kernels {
namespace {

template <class T>
__global__ void rope_kernel(const T* x, const std::int32_t* __restrict__ positions, const T* __restrict__ cos,
                            const T* __restrict__ sin, index_t tokens, index_t heads, index_t head_dim, index_t half,
                            index_t table_rows, bool interleaved, T sign, T* y) {
  const index_t units = head_dim - half;
  const index_t total = tokens * heads * units;
  for (index_t i = device::global_index(); i < total; i += device::global_stride()) {
    const index_t head_row = i / units, u = i - head_row * units;
    const index_t t = head_row / heads;
    const index_t base = head_row * head_dim;
    if (u >= half) {
      y[base + u + half] = x[base + u + half];
      continue;
    }
    const index_t ia = interleaved ? 2 * u : u;
    const index_t ib = interleaved ? 2 * u + 1 : u + half;
    const index_t pos = positions[t];
    T c, s;
    if (pos >= 0 && pos < table_rows) {
      c = cos[pos * half + u];
      s = sign * sin[pos * half + u];
    } else {
      c = device::quiet_nan<T>();
      s = c;
    }
    const T a = x[base + ia], b = x[base + ib];
    y[base + ia] = a * c - b * s;
    y[base + ib] = b * c + a * s;
  }
}

}  // namespace

template <class T>
void rope(const T* x, const std::int32_t* positions, const T* cos, const T* sin, index_t tokens, index_t heads,
          index_t head_dim, index_t half, index_t table_rows, rope_layout layout, int sign, T* y, cudaStream_t stream) {
  const index_t total = tokens * heads * (head_dim - half);
  if (total <= 0) return;
  rope_kernel<T><<<device::blocks_for(total), device::block_threads, 0, stream>>>(
      x, positions, cos, sin, tokens, heads, head_dim, half, table_rows, layout == rope_layout::interleaved,
      static_cast<T>(sign), y);
  LSK_CUDA_CHECK_LAUNCH("rope_kernel");
}

#define LSK_INSTANTIATE(T)                                                                                     \
  template void rope<T>(const T*, const std::int32_t*, const T*, const T*, index_t, index_t, index_t, index_t, \
                        index_t, rope_layout, int, T*, cudaStream_t);
LSK_INSTANTIATE(float)
LSK_INSTANTIATE(double)
#undef LSK_INSTANTIATE

}  // namespace lsk::cuda::kernels
