// backends/cuda/src/reduction_kernels.cu: whole-tensor reductions (sum,
// sum_squares, max_abs) and column sums (sum_rows).
//
// Whole-tensor: a capped grid of blocks, each thread accumulating a
// grid-stride slice in double, each block reducing its threads (warp shuffles,
// then shared memory) to one partial; a single block then reduces the
// partials. The grid depends only on n, so the order of additions, and the
// result, is the same on every run. The double result is copied to the host
// on the stream, which the launcher then waits for. max_abs ignores NaNs (as
// std::max and fmax do). sum_squares_total: each tensor's partials (its own
// grid, as above) go to consecutive slots of one buffer, one block reduces all
// of them in slot order, and the launcher waits once.
// sum_rows: the deterministic column sum of column_sum.cuh, overwriting y.
#include <algorithm>
#include <vector>

#include "column_sum.cuh"
#include "common.cuh"
#include "lsk/backends/cuda/kernels.hpp"

namespace lsk::cuda::kernels {
namespace {

using device::block_threads;
using device::warp_size;

enum class reduce_kind { sum, sum_squares, max_abs };
inline constexpr index_t max_partials = 1024;

template <reduce_kind K>
__device__ __forceinline__ double combine(double acc, double v) {
  if constexpr (K == reduce_kind::sum) {
    return acc + v;
  } else if constexpr (K == reduce_kind::sum_squares) {
    return fma(v, v, acc);
  } else {
    return fmax(acc, fabs(v));
  }
}

template <reduce_kind K>
__device__ __forceinline__ double block_combine(double v, double* shared) {
  if constexpr (K == reduce_kind::max_abs) {
    return device::block_max(v, shared);
  } else {
    return device::block_sum(v, shared);
  }
}

template <class T, reduce_kind K>
__global__ void reduce_partials_kernel(const T* __restrict__ x, index_t n, double* __restrict__ partial) {
  __shared__ double shared[block_threads / warp_size];
  double acc = 0.0;
  for (index_t i = device::global_index(); i < n; i += device::global_stride()) {
    acc = combine<K>(acc, static_cast<double>(x[i]));
  }
  acc = block_combine<K>(acc, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// One block: partials of sum_squares are sums already, so they are added.
template <reduce_kind K>
__global__ void reduce_finish_kernel(const double* __restrict__ partial, index_t count, double* __restrict__ out) {
  __shared__ double shared[block_threads / warp_size];
  constexpr reduce_kind outer = K == reduce_kind::max_abs ? reduce_kind::max_abs : reduce_kind::sum;
  double acc = 0.0;
  for (index_t i = threadIdx.x; i < count; i += block_threads) acc = combine<outer>(acc, partial[i]);
  acc = block_combine<outer>(acc, shared);
  if (threadIdx.x == 0) *out = acc;
}

// Reduces `count` partials into *result on the device and waits for it on the host.
template <reduce_kind K>
double finish_on_host(const double* partials, index_t count, double* result, cudaStream_t stream) {
  reduce_finish_kernel<K><<<1, block_threads, 0, stream>>>(partials, count, result);
  LSK_CUDA_CHECK_LAUNCH("reduce_finish_kernel");
  double host = 0.0;
  LSK_CUDA_CHECK(cudaMemcpyAsync(&host, result, sizeof(double), cudaMemcpyDeviceToHost, stream));
  LSK_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

// The blocks (and partials) of one tensor's reduction: a function of n only.
index_t partial_blocks(index_t n) { return std::min(static_cast<index_t>(device::blocks_for(n)), max_partials); }

template <class T, reduce_kind K>
double reduce(const T* x, index_t n, cudaStream_t stream) {
  if (n <= 0) return 0.0;
  const index_t blocks = partial_blocks(n);
  device::scratch partial(static_cast<std::size_t>(blocks + 1) * sizeof(double), stream);
  double* partials = partial.as<double>();
  double* result = partials + blocks;
  reduce_partials_kernel<T, K><<<static_cast<unsigned int>(blocks), block_threads, 0, stream>>>(x, n, partials);
  LSK_CUDA_CHECK_LAUNCH("reduce_partials_kernel");
  return finish_on_host<K>(partials, blocks, result, stream);
}

template <class T>
struct element_value {
  const T* x;
  index_t n;
  __device__ double operator()(index_t r, index_t j) const { return static_cast<double>(x[r * n + j]); }
};

}  // namespace

template <class T>
double sum(const T* x, index_t n, cudaStream_t stream) {
  return reduce<T, reduce_kind::sum>(x, n, stream);
}

template <class T>
double sum_squares(const T* x, index_t n, cudaStream_t stream) {
  return reduce<T, reduce_kind::sum_squares>(x, n, stream);
}

template <class T>
double sum_squares_total(const T* const* xs, const index_t* ns, std::size_t count, cudaStream_t stream) {
  std::vector<index_t> blocks(count, 0);
  index_t slots = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (ns[i] <= 0) continue;
    blocks[i] = partial_blocks(ns[i]);
    slots += blocks[i];
  }
  if (slots == 0) return 0.0;
  device::scratch partial(static_cast<std::size_t>(slots + 1) * sizeof(double), stream);
  double* partials = partial.as<double>();
  double* result = partials + slots;
  index_t offset = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (blocks[i] == 0) continue;
    reduce_partials_kernel<T, reduce_kind::sum_squares>
        <<<static_cast<unsigned int>(blocks[i]), block_threads, 0, stream>>>(xs[i], ns[i], partials + offset);
    LSK_CUDA_CHECK_LAUNCH("reduce_partials_kernel");
    offset += blocks[i];
  }
  return finish_on_host<reduce_kind::sum_squares>(partials, slots, result, stream);
}

template <class T>
double max_abs(const T* x, index_t n, cudaStream_t stream) {
  return reduce<T, reduce_kind::max_abs>(x, n, stream);
}

template <class T>
void sum_rows(const T* x, T* y, index_t rows, index_t n, cudaStream_t stream) {
  device::column_sum(element_value<T>{x, n}, rows, n, y, false, stream);
}

#define LSK_INSTANTIATE(T)                                                                          \
  template double sum<T>(const T*, index_t, cudaStream_t);                                          \
  template double sum_squares<T>(const T*, index_t, cudaStream_t);                                  \
  template double sum_squares_total<T>(const T* const*, const index_t*, std::size_t, cudaStream_t); \
  template double max_abs<T>(const T*, index_t, cudaStream_t);                                      \
  template void sum_rows<T>(const T*, T*, index_t, index_t, cudaStream_t);
LSK_INSTANTIATE(float)
LSK_INSTANTIATE(double)
#undef LSK_INSTANTIATE

}  // namespace lsk::cuda::kernels
