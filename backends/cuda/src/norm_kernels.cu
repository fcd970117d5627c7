// backends/cuda/src/norm_kernels.cu: RMSNorm forward and backward.
//
// forward: one block per row; the sum of squares accumulates in double (block
// reduction), rstd = 1 / sqrt(ss / d + eps) in double, stored as T, and
// y = x * rstd * w computed in double and rounded once, as the reference does.
// backward: one block per row for dx (the row's dot(dy * w, x) in double, dx
// in double rounded once); the weight gradient dw[j] += sum_r dy x rstd is a
// deterministic column sum in double (column_sum.cuh) added to dw.
#include "column_sum.cuh"
#include "common.cuh"
#include "lsk/backends/cuda/kernels.hpp"

namespace lsk::cuda::kernels {
namespace {

using device::block_sum;
using device::block_threads;
using device::warp_size;

template <class T>
__global__ void rmsnorm_forward_kernel(const T* __restrict__ x, const T* __restrict__ w, T eps, T* __restrict__ y,
                                       T* __restrict__ rstd, index_t d) {
  __shared__ double shared[block_threads / warp_size];
  const index_t r = blockIdx.x;
  const T* xr = x + r * d;
  double ss = 0.0;
  for (index_t j = threadIdx.x; j < d; j += block_threads) {
    const double v = xr[j];
    ss += v * v;
  }
  ss = block_sum(ss, shared);
  const double inv = 1.0 / sqrt(ss / static_cast<double>(d) + static_cast<double>(eps));
  if (threadIdx.x == 0) rstd[r] = static_cast<T>(inv);
  T* yr = y + r * d;
  for (index_t j = threadIdx.x; j < d; j += block_threads) {
    yr[j] = static_cast<T>(static_cast<double>(xr[j]) * inv * static_cast<double>(w[j]));
  }
}

// dx = rstd (g - x rstd^2 mean(g x)), g = dy w.
template <class T>
__global__ void rmsnorm_backward_dx_kernel(const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ w,
                                           const T* __restrict__ rstd, T* __restrict__ dx, index_t d) {
  __shared__ double shared[block_threads / warp_size];
  const index_t r = blockIdx.x;
  const T* xr = x + r * d;
  const T* dyr = dy + r * d;
  double dot = 0.0;
  for (index_t j = threadIdx.x; j < d; j += block_threads) {
    dot += static_cast<double>(dyr[j]) * static_cast<double>(w[j]) * static_cast<double>(xr[j]);
  }
  dot = block_sum(dot, shared);
  const double inv = static_cast<double>(rstd[r]);
  const double coef = inv * inv * dot / static_cast<double>(d);
  T* dxr = dx + r * d;
  for (index_t j = threadIdx.x; j < d; j += block_threads) {
    const double g = static_cast<double>(dyr[j]) * static_cast<double>(w[j]);
    dxr[j] = static_cast<T>(inv * (g - static_cast<double>(xr[j]) * coef));
  }
}

template <class T>
struct dw_term {
  const T* dy;
  const T* x;
  const T* rstd;
  index_t d;
  __device__ double operator()(index_t r, index_t j) const {
    return static_cast<double>(dy[r * d + j]) * static_cast<double>(x[r * d + j]) * static_cast<double>(rstd[r]);
  }
};

}  // namespace

template <class T>
void rmsnorm_forward(const T* x, const T* w, T eps, T* y, T* rstd, index_t rows, index_t d, cudaStream_t stream) {
  if (rows <= 0) return;
  device::require_grid_rows("rmsnorm_forward", rows);
  rmsnorm_forward_kernel<T><<<static_cast<unsigned int>(rows), block_threads, 0, stream>>>(x, w, eps, y, rstd, d);
  LSK_CUDA_CHECK_LAUNCH("rmsnorm_forward_kernel");
}

template <class T>
void rmsnorm_backward(const T* dy, const T* x, const T* w, const T* rstd, T* dx, T* dw, index_t rows, index_t d,
                      cudaStream_t stream) {
  if (rows <= 0 || d <= 0) return;
  device::require_grid_rows("rmsnorm_backward", rows);
  rmsnorm_backward_dx_kernel<T><<<static_cast<unsigned int>(rows), block_threads, 0, stream>>>(dy, x, w, rstd, dx, d);
  LSK_CUDA_CHECK_LAUNCH("rmsnorm_backward_dx_kernel");
  device::column_sum(dw_term<T>{dy, x, rstd, d}, rows, d, dw, true, stream);
}

#define LSK_INSTANTIATE(T)                                                                         \
  template void rmsnorm_forward<T>(const T*, const T*, T, T*, T*, index_t, index_t, cudaStream_t); \
  template void rmsnorm_backward<T>(const T*, const T*, const T*, const T*, T*, T*, index_t, index_t, cudaStream_t);
LSK_INSTANTIATE(float)
LSK_INSTANTIATE(double)
#undef LSK_INSTANTIATE

}  // namespace lsk::cuda::kernels
