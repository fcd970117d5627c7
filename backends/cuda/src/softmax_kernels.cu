// backends/cuda/src/softmax_kernels.cu: softmax (plain and causal), its
// backward, and softmax cross-entropy forward and backward.
//
// Row kernels (softmax forward/backward, cross-entropy forward): one block per
// row, three passes over the row (max, sum, write), the row staying in L1/L2.
// Numerics: exponentials in the input precision after subtracting the row
// maximum; the sum of exponentials (and softmax backward's dot(y, dy)) in
// double; outputs computed in double and rounded once. In place (y = x,
// dx = dy) is safe: each element is written by the thread that read it, after
// the block barriers that end the reduction passes.
// Cross-entropy: lse = max + log(sum) in double; the row loss lse - x[target]
// stays in double and the rows' losses are summed in double (reduction
// kernels); backward: one block per row, p = exp(x - lse) in the input
// precision, the output computed in double and rounded once.
#include "common.cuh"
#include "lsk/backends/cuda/kernels.hpp"

namespace lsk::cuda::kernels {
namespace {

using device::block_max;
using device::block_sum;
using device::block_threads;
using device::exp_of;
using device::warp_size;

// Causal rows (queries > 0): row r of a (queries, n) matrix sees keys
// j <= r % queries + (n - queries); the rest of y is 0.
template <class T>
__global__ void softmax_forward_kernel(const T* x, T scale, T* y, index_t n, index_t queries) {
  __shared__ double shared[block_threads / warp_size];
  const index_t r = blockIdx.x;
  const T* xr = x + r * n;
  T* yr = y + r * n;
  const index_t visible = queries > 0 ? r % queries + (n - queries) + 1 : n;
  double mx = -INFINITY;
  for (index_t j = threadIdx.x; j < visible; j += block_threads) mx = fmax(mx, static_cast<double>(scale * xr[j]));
  mx = block_max(mx, shared);
  const T shift = static_cast<T>(mx);
  double s = 0.0;
  for (index_t j = threadIdx.x; j < visible; j += block_threads)
    s += static_cast<double>(exp_of(scale * xr[j] - shift));
  s = block_sum(s, shared);
  const double inv = 1.0 / s;
  for (index_t j = threadIdx.x; j < n; j += block_threads) {
    yr[j] = j < visible ? static_cast<T>(static_cast<double>(exp_of(scale * xr[j] - shift)) * inv) : T(0);
  }
}

// dx = scale y (dy - dot(y, dy)).
template <class T>
__global__ void softmax_backward_kernel(const T* y, const T* dy, T scale, T* dx, index_t n) {
  __shared__ double shared[block_threads / warp_size];
  const index_t r = blockIdx.x;
  const T* yr = y + r * n;
  const T* dyr = dy + r * n;
  T* dxr = dx + r * n;
  double dot = 0.0;
  for (index_t j = threadIdx.x; j < n; j += block_threads) {
    dot += static_cast<double>(yr[j]) * static_cast<double>(dyr[j]);
  }
  dot = block_sum(dot, shared);
  for (index_t j = threadIdx.x; j < n; j += block_threads) {
    dxr[j] =
        static_cast<T>(static_cast<double>(scale) * static_cast<double>(yr[j]) * (static_cast<double>(dyr[j]) - dot));
  }
}

// lse[r] and the row's loss (0 for masked rows, NaN for a target outside the vocabulary).
template <class T>
__global__ void cross_entropy_forward_kernel(const T* __restrict__ logits, const std::int32_t* __restrict__ targets,
                                             const std::uint8_t* __restrict__ mask, T* __restrict__ lse,
                                             double* __restrict__ loss, index_t vocab) {
  __shared__ double shared[block_threads / warp_size];
  const index_t r = blockIdx.x;
  const T* row = logits + r * vocab;
  double mx = -INFINITY;
  for (index_t j = threadIdx.x; j < vocab; j += block_threads) mx = fmax(mx, static_cast<double>(row[j]));
  mx = block_max(mx, shared);
  const T shift = static_cast<T>(mx);
  double s = 0.0;
  for (index_t j = threadIdx.x; j < vocab; j += block_threads) s += static_cast<double>(exp_of(row[j] - shift));
  s = block_sum(s, shared);
  if (threadIdx.x == 0) {
    const double l = mx + log(s);
    lse[r] = static_cast<T>(l);
    double row_loss = 0.0;
    if (mask[r] != 0) {
      const index_t t = targets[r];
      row_loss = t >= 0 && t < vocab ? l - static_cast<double>(row[t]) : device::quiet_nan<double>();
    }
    loss[r] = row_loss;
  }
}

// One block per row: masked rows get 0, others scale (exp(x - lse) - [j == target]).
template <class T>
__global__ void cross_entropy_backward_kernel(const T* __restrict__ logits, const std::int32_t* __restrict__ targets,
                                              const std::uint8_t* __restrict__ mask, const T* __restrict__ lse, T scale,
                                              T* __restrict__ dlogits, index_t vocab) {
  const index_t r = blockIdx.x;
  T* out = dlogits + r * vocab;
  if (mask[r] == 0) {
    for (index_t j = threadIdx.x; j < vocab; j += block_threads) out[j] = T(0);
    return;
  }
  const T* row = logits + r * vocab;
  const T l = lse[r];
  const index_t t = targets[r];
  const double s = static_cast<double>(scale);
  for (index_t j = threadIdx.x; j < vocab; j += block_threads) {
    const double p = static_cast<double>(exp_of(row[j] - l));
    out[j] = static_cast<T>(s * (p - (j == t ? 1.0 : 0.0)));
  }
}

}  // namespace

template <class T>
void softmax_forward(const T* x, T scale, T* y, index_t rows, index_t n, index_t queries, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return;
  device::require_grid_rows("softmax_forward", rows);
  softmax_forward_kernel<T><<<static_cast<unsigned int>(rows), block_threads, 0, stream>>>(x, scale, y, n, queries);
  LSK_CUDA_CHECK_LAUNCH("softmax_forward_kernel");
}

template <class T>
void softmax_backward(const T* y, const T* dy, T scale, T* dx, index_t rows, index_t n, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return;
  device::require_grid_rows("softmax_backward", rows);
  softmax_backward_kernel<T><<<static_cast<unsigned int>(rows), block_threads, 0, stream>>>(y, dy, scale, dx, n);
  LSK_CUDA_CHECK_LAUNCH("softmax_backward_kernel");
}

template <class T>
double cross_entropy_forward(const T* logits, const std::int32_t* targets, const std::uint8_t* mask, T* lse,
                             index_t rows, index_t vocab, cudaStream_t stream) {
  if (rows <= 0) return 0.0;
  device::require_grid_rows("cross_entropy_forward", rows);
  device::scratch loss(static_cast<std::size_t>(rows) * sizeof(double), stream);
  cross_entropy_forward_kernel<T><<<static_cast<unsigned int>(rows), block_threads, 0, stream>>>(
      logits, targets, mask, lse, loss.as<double>(), vocab);
  LSK_CUDA_CHECK_LAUNCH("cross_entropy_forward_kernel");
  return sum<double>(loss.as<double>(), rows, stream);
}

template <class T>
void cross_entropy_backward(const T* logits, const std::int32_t* targets, const std::uint8_t* mask, const T* lse,
                            T scale, T* dlogits, index_t rows, index_t vocab, cudaStream_t stream) {
  if (rows <= 0 || vocab <= 0) return;
  device::require_grid_rows("cross_entropy_backward", rows);
  cross_entropy_backward_kernel<T><<<static_cast<unsigned int>(rows), block_threads, 0, stream>>>(
      logits, targets, mask, lse, scale, dlogits, vocab);
  LSK_CUDA_CHECK_LAUNCH("cross_entropy_backward_kernel");
}

#define LSK_INSTANTIATE(T)                                                                                           \
  template void softmax_forward<T>(const T*, T, T*, index_t, index_t, index_t, cudaStream_t);                        \
  template void softmax_backward<T>(const T*, const T*, T, T*, index_t, index_t, cudaStream_t);                      \
  template double cross_entropy_forward<T>(const T*, const std::int32_t*, const std::uint8_t*, T*, index_t, index_t, \
                                           cudaStream_t);                                                            \
  template void cross_entropy_backward<T>(const T*, const std::int32_t*, const std::uint8_t*, const T*, T, T*,       \
                                          index_t, index_t, cudaStream_t);
LSK_INSTANTIATE(float)
LSK_INSTANTIATE(double)
#undef LSK_INSTANTIATE

}  // namespace lsk::cuda::kernels
