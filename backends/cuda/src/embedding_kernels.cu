// backends/cuda/src/embedding_kernels.cu: token embedding lookup and its gradient.
//
// forward: one thread per output element (t, j) copies table[ids[t], j]; an id
// outside [0, vocab) writes NaN instead of reading out of bounds.
// backward: one thread per element of dout adds it to dtable[ids[t], j] with
// an atomic add in the input precision (f64 atomics need sm_60 or newer), so
// repeated ids accumulate correctly; the order of additions to a row varies
// between runs (results differ by floating-point reassociation only). Rows of
// out-of-range ids are skipped.
#include "common.cuh"
#include "lsk/backends/cuda/kernels.hpp"

namespace lsk::cuda::kernels {
namespace {

using device::global_index;
using device::global_stride;

template <class T>
__global__ void embedding_forward_kernel(const std::int32_t* __restrict__ ids, index_t count,
                                         const T* __restrict__ table, index_t vocab, index_t dim, T* __restrict__ out) {
  const index_t total = count * dim;
  for (index_t i = global_index(); i < total; i += global_stride()) {
    const index_t t = i / dim, j = i - t * dim;
    const index_t id = ids[t];
    out[i] = id >= 0 && id < vocab ? table[id * dim + j] : device::quiet_nan<T>();
  }
}

template <class T>
__global__ void embedding_backward_kernel(const std::int32_t* __restrict__ ids, index_t count,
                                          const T* __restrict__ dout, index_t vocab, index_t dim, T* dtable) {
  const index_t total = count * dim;
  for (index_t i = global_index(); i < total; i += global_stride()) {
    const index_t t = i / dim, j = i - t * dim;
    const index_t id = ids[t];
    if (id >= 0 && id < vocab) atomicAdd(dtable + id * dim + j, dout[i]);
  }
}

}  // namespace

template <class T>
void embedding_forward(const std::int32_t* ids, index_t count, const T* table, index_t vocab, index_t dim, T* out,
                       cudaStream_t stream) {
  if (count <= 0 || dim <= 0) return;
  embedding_forward_kernel<T>
      <<<device::blocks_for(count * dim), device::block_threads, 0, stream>>>(ids, count, table, vocab, dim, out);
  LSK_CUDA_CHECK_LAUNCH("embedding_forward_kernel");
}

template <class T>
void embedding_backward(const std::int32_t* ids, index_t count, const T* dout, index_t vocab, index_t dim, T* dtable,
                        cudaStream_t stream) {
  if (count <= 0 || dim <= 0) return;
  embedding_backward_kernel<T>
      <<<device::blocks_for(count * dim), device::block_threads, 0, stream>>>(ids, count, dout, vocab, dim, dtable);
  LSK_CUDA_CHECK_LAUNCH("embedding_backward_kernel");
}

#define LSK_INSTANTIATE(T)                                                                                        \
  template void embedding_forward<T>(const std::int32_t*, index_t, const T*, index_t, index_t, T*, cudaStream_t); \
  template void embedding_backward<T>(const std::int32_t*, index_t, const T*, index_t, index_t, T*, cudaStream_t);
LSK_INSTANTIATE(float)
LSK_INSTANTIATE(double)
#undef LSK_INSTANTIATE

}  // namespace lsk::cuda::kernels
