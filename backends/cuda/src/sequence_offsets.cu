// backends/cuda/src/sequence_offsets.cu: cu_seqlens for a batch of equal-length
// sequences (lsk/backends/cuda/flash_attention.hpp): offsets[b] = b * seq_len.
// One thread per offset; int32 arithmetic (the caller keeps batch * seq_len
// within int32, as the flash kernels require).
#include <cuda_runtime.h>

#include <cstdint>

#include "common.cuh"
#include "lsk/backends/cuda/flash_attention.hpp"

namespace lsk::cuda {
namespace {
__global__ void sequence_offsets_kernel(std::int32_t* __restrict__ offsets, int count, int seq_len) {
  const int b = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (b < count) offsets[b] = b * seq_len;
}
}  // namespace

void fill_sequence_offsets(std::int32_t* offsets, int batch, int seq_len, cudaStream_t stream) {
  const int count = batch + 1;
  constexpr int threads = 128;
  sequence_offsets_kernel<<<(count + threads - 1) / threads, threads, 0, stream>>>(offsets, count, seq_len);
  LSK_CUDA_CHECK_LAUNCH("sequence_offsets_kernel");
}

}  // namespace lsk::cuda
