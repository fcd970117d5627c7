// backends/cuda/src/elementwise_kernels.cu: element-wise ops of the CUDA backend.
//
// Algorithm: one thread per element in a grid-stride loop (coalesced loads and
// stores, 64-bit indices). Numerics: in the input precision. add, mul and
// scale round once, as the reference's double computation rounded to T does;
// axpy is one fused multiply-add (one rounding). sigmoid(v) = 1 / (1 + exp(-v))
// with exp in the input precision (exp(-v) overflowing to inf gives 0).
#include "common.cuh"
#include "lsk/backends/cuda/kernels.hpp"

namespace lsk::cuda::kernels {
namespace {

using device::global_index;
using device::global_stride;

template <class T>
__device__ __forceinline__ T sigmoid(T v) {
  return T(1) / (T(1) + device::exp_of(-v));
}

template <class T>
__global__ void add_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, index_t n) {
  for (index_t i = global_index(); i < n; i += global_stride()) y[i] = a[i] + b[i];
}

template <class T>
__global__ void mul_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, index_t n) {
  for (index_t i = global_index(); i < n; i += global_stride()) y[i] = a[i] * b[i];
}

// y may be x: no __restrict__.
template <class T>
__global__ void scale_kernel(const T* x, T alpha, T* y, index_t n) {
  for (index_t i = global_index(); i < n; i += global_stride()) y[i] = alpha * x[i];
}

template <class T>
__global__ void axpy_kernel(T alpha, const T* __restrict__ x, T* __restrict__ y, index_t n) {
  for (index_t i = global_index(); i < n; i += global_stride()) y[i] = device::fma_of(alpha, x[i], y[i]);
}

template <class T>
__global__ void fill_kernel(T* __restrict__ y, T value, index_t n) {
  for (index_t i = global_index(); i < n; i += global_stride()) y[i] = value;
}

// AdamW (lsk/ops/adamw_update.hpp): moments, then the decayed parameter step.
template <class T>
__global__ void adamw_update_kernel(T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ m,
                                    T* __restrict__ v, adamw_coefficients<T> c, index_t n) {
  for (index_t i = global_index(); i < n; i += global_stride()) {
    const T g = grad[i] * c.grad_scale;
    const T mi = c.beta1 * m[i] + (T(1) - c.beta1) * g;
    const T vi = c.beta2 * v[i] + (T(1) - c.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * c.decay_factor - c.step_size * mi / (sqrt(vi) * c.inv_sqrt_c2 + c.eps);
  }
}

template <class T>
__global__ void silu_forward_kernel(const T* __restrict__ x, T* __restrict__ y, index_t n) {
  for (index_t i = global_index(); i < n; i += global_stride()) {
    const T v = x[i];
    y[i] = v * sigmoid(v);
  }
}

// silu'(v) = s (1 + v (1 - s)), s = sigmoid(v).
template <class T>
__global__ void silu_backward_kernel(const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx, index_t n) {
  for (index_t i = global_index(); i < n; i += global_stride()) {
    const T v = x[i];
    const T s = sigmoid(v);
    dx[i] = dy[i] * (s * (T(1) + v * (T(1) - s)));
  }
}

template <class T>
__global__ void swiglu_forward_kernel(const T* __restrict__ gate, const T* __restrict__ up, T* __restrict__ y,
                                      index_t n) {
  for (index_t i = global_index(); i < n; i += global_stride()) {
    const T g = gate[i];
    y[i] = g * sigmoid(g) * up[i];
  }
}

// dgate = dy * up * silu'(gate), dup = dy * silu(gate).
template <class T>
__global__ void swiglu_backward_kernel(const T* __restrict__ gate, const T* __restrict__ up, const T* __restrict__ dy,
                                       T* __restrict__ dgate, T* __restrict__ dup, index_t n) {
  for (index_t i = global_index(); i < n; i += global_stride()) {
    const T g = gate[i], d = dy[i];
    const T s = sigmoid(g);
    dgate[i] = d * up[i] * (s * (T(1) + g * (T(1) - s)));
    dup[i] = d * (g * s);
  }
}

template <class T>
__global__ void broadcast_rows_kernel(const T* __restrict__ row, T* __restrict__ y, index_t rows, index_t n) {
  const index_t total = rows * n;
  for (index_t i = global_index(); i < total; i += global_stride()) y[i] = row[i % n];
}

}  // namespace

template <class T>
void add(const T* a, const T* b, T* y, index_t n, cudaStream_t stream) {
  if (n <= 0) return;
  add_kernel<T><<<device::blocks_for(n), device::block_threads, 0, stream>>>(a, b, y, n);
  LSK_CUDA_CHECK_LAUNCH("add_kernel");
}

template <class T>
void mul(const T* a, const T* b, T* y, index_t n, cudaStream_t stream) {
  if (n <= 0) return;
  mul_kernel<T><<<device::blocks_for(n), device::block_threads, 0, stream>>>(a, b, y, n);
  LSK_CUDA_CHECK_LAUNCH("mul_kernel");
}

template <class T>
void scale(const T* x, T alpha, T* y, index_t n, cudaStream_t stream) {
  if (n <= 0) return;
  scale_kernel<T><<<device::blocks_for(n), device::block_threads, 0, stream>>>(x, alpha, y, n);
  LSK_CUDA_CHECK_LAUNCH("scale_kernel");
}

template <class T>
void axpy(T alpha, const T* x, T* y, index_t n, cudaStream_t stream) {
  if (n <= 0) return;
  axpy_kernel<T><<<device::blocks_for(n), device::block_threads, 0, stream>>>(alpha, x, y, n);
  LSK_CUDA_CHECK_LAUNCH("axpy_kernel");
}

template <class T>
void fill(T* y, T value, index_t n, cudaStream_t stream) {
  if (n <= 0) return;
  fill_kernel<T><<<device::blocks_for(n), device::block_threads, 0, stream>>>(y, value, n);
  LSK_CUDA_CHECK_LAUNCH("fill_kernel");
}

template <class T>
void adamw_update(T* param, const T* grad, T* m, T* v, adamw_coefficients<T> c, index_t n, cudaStream_t stream) {
  if (n <= 0) return;
  adamw_update_kernel<T><<<device::blocks_for(n), device::block_threads, 0, stream>>>(param, grad, m, v, c, n);
  LSK_CUDA_CHECK_LAUNCH("adamw_update_kernel");
}

template <class T>
void silu_forward(const T* x, T* y, index_t n, cudaStream_t stream) {
  if (n <= 0) return;
  silu_forward_kernel<T><<<device::blocks_for(n), device::block_threads, 0, stream>>>(x, y, n);
  LSK_CUDA_CHECK_LAUNCH("silu_forward_kernel");
}

template <class T>
void silu_backward(const T* x, const T* dy, T* dx, index_t n, cudaStream_t stream) {
  if (n <= 0) return;
  silu_backward_kernel<T><<<device::blocks_for(n), device::block_threads, 0, stream>>>(x, dy, dx, n);
  LSK_CUDA_CHECK_LAUNCH("silu_backward_kernel");
}

template <class T>
void swiglu_forward(const T* gate, const T* up, T* y, index_t n, cudaStream_t stream) {
  if (n <= 0) return;
  swiglu_forward_kernel<T><<<device::blocks_for(n), device::block_threads, 0, stream>>>(gate, up, y, n);
  LSK_CUDA_CHECK_LAUNCH("swiglu_forward_kernel");
}

template <class T>
void swiglu_backward(const T* gate, const T* up, const T* dy, T* dgate, T* dup, index_t n, cudaStream_t stream) {
  if (n <= 0) return;
  swiglu_backward_kernel<T><<<device::blocks_for(n), device::block_threads, 0, stream>>>(gate, up, dy, dgate, dup, n);
  LSK_CUDA_CHECK_LAUNCH("swiglu_backward_kernel");
}

template <class T>
void broadcast_rows(const T* row, T* y, index_t rows, index_t n, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return;
  broadcast_rows_kernel<T><<<device::blocks_for(rows * n), device::block_threads, 0, stream>>>(row, y, rows, n);
  LSK_CUDA_CHECK_LAUNCH("broadcast_rows_kernel");
}

#define LSK_INSTANTIATE(T)                                                                           \
  template void add<T>(const T*, const T*, T*, index_t, cudaStream_t);                               \
  template void mul<T>(const T*, const T*, T*, index_t, cudaStream_t);                               \
  template void scale<T>(const T*, T, T*, index_t, cudaStream_t);                                    \
  template void axpy<T>(T, const T*, T*, index_t, cudaStream_t);                                     \
  template void fill<T>(T*, T, index_t, cudaStream_t);                                               \
  template void adamw_update<T>(T*, const T*, T*, T*, adamw_coefficients<T>, index_t, cudaStream_t); \
  template void silu_forward<T>(const T*, T*, index_t, cudaStream_t);                                \
  template void silu_backward<T>(const T*, const T*, T*, index_t, cudaStream_t);                     \
  template void swiglu_forward<T>(const T*, const T*, T*, index_t, cudaStream_t);                    \
  template void swiglu_backward<T>(const T*, const T*, const T*, T*, T*, index_t, cudaStream_t);     \
  template void broadcast_rows<T>(const T*, T*, index_t, index_t, cudaStream_t);
LSK_INSTANTIATE(float)
LSK_INSTANTIATE(double)
#undef LSK_INSTANTIATE

}  // namespace lsk::cuda::kernels
