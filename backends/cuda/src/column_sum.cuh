// backends/cuda/src/column_sum.cuh: column sums of a (rows, n) array of values
// given by a functor, written to (or added to) a T vector (device code, nvcc only).
//
// Algorithm: the rows are cut into at most max_chunks chunks; a block of
// 32 x 8 threads covers 32 columns of one chunk, each thread striding over the
// chunk's rows (a warp reads 32 consecutive columns of a row: coalesced), the
// 8 row lanes combined through shared memory. Per-chunk partials go to a
// temporary (chunks, n) double array; a second kernel adds a column's partials
// in chunk order. Numerics: every sum in double, in a fixed order
// (deterministic); out[j] = T(start + partials), start = out[j] when
// accumulating, else 0.
#pragma once

#include "common.cuh"

namespace lsk::cuda::device {

inline constexpr int column_tile = 32, column_lanes = 8;
inline constexpr index_t column_max_chunks = 128, column_min_rows_per_chunk = 32;

template <class Value>
__global__ void column_partials_kernel(Value value, index_t rows, index_t n, index_t rows_per_chunk,
                                       double* __restrict__ partial) {
  __shared__ double tile[column_lanes][column_tile + 1];
  const index_t j = static_cast<index_t>(blockIdx.x) * column_tile + threadIdx.x;
  const index_t r0 = static_cast<index_t>(blockIdx.y) * rows_per_chunk;
  const index_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
  double acc = 0.0;
  if (j < n) {
    for (index_t r = r0 + threadIdx.y; r < r1; r += column_lanes) acc += value(r, j);
  }
  tile[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && j < n) {
    double s = 0.0;
    for (int k = 0; k < column_lanes; ++k) s += tile[k][threadIdx.x];
    partial[static_cast<index_t>(blockIdx.y) * n + j] = s;
  }
}

template <class T>
__global__ void column_finish_kernel(const double* __restrict__ partial, index_t chunks, index_t n, T* out,
                                     bool accumulate) {
  for (index_t j = global_index(); j < n; j += global_stride()) {
    double s = accumulate ? static_cast<double>(out[j]) : 0.0;
    for (index_t c = 0; c < chunks; ++c) s += partial[c * n + j];
    out[j] = static_cast<T>(s);
  }
}

// out[j] (+)= sum_r value(r, j) for r < rows, j < n. Host function; value is a
// trivially copyable functor with a __device__ double operator()(index_t r, index_t j).
template <class T, class Value>
void column_sum(Value value, index_t rows, index_t n, T* out, bool accumulate, cudaStream_t stream) {
  if (n <= 0) return;
  index_t chunks = (rows + column_min_rows_per_chunk - 1) / column_min_rows_per_chunk;
  if (chunks > column_max_chunks) chunks = column_max_chunks;
  if (chunks < 1) chunks = 1;
  const index_t rows_per_chunk = rows > 0 ? (rows + chunks - 1) / chunks : 1;
  const index_t tiles = (n + column_tile - 1) / column_tile;
  if (tiles > index_t{0x7fffffff}) raise<shape_error>("cuda: ", n, " columns exceed one grid dimension");
  scratch partial(static_cast<std::size_t>(chunks * n) * sizeof(double), stream);
  const dim3 grid(static_cast<unsigned int>(tiles), static_cast<unsigned int>(chunks));
  const dim3 block(column_tile, column_lanes);
  column_partials_kernel<Value><<<grid, block, 0, stream>>>(value, rows, n, rows_per_chunk, partial.as<double>());
  LSK_CUDA_CHECK_LAUNCH("column_partials_kernel");
  column_finish_kernel<T>
      <<<blocks_for(n), block_threads, 0, stream>>>(partial.as<double>(), chunks, n, out, accumulate);
  LSK_CUDA_CHECK_LAUNCH("column_finish_kernel");
}

}  // namespace lsk::cuda::device
