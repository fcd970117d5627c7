// lsk/backends/cuda/kernels.hpp: host-side launchers of the CUDA backend's kernels.
//
// Host declarations (compile with any C++20 compiler); the definitions live in
// backends/cuda/src/*_kernels.cu, explicitly instantiated for float and
// double. Every pointer is a device pointer to contiguous row-major data. Each
// launcher enqueues its work on `stream` and returns without waiting, except
// the ones returning a host double, which wait for their result. Zero-sized
// problems launch nothing. Launch failures throw lsk::cuda_error; faults inside
// a kernel surface at the next synchronizing call.
//
// Ids (token ids, targets, positions) are not validated on the host for device
// memory; the kernels never read or write out of bounds because of them: an
// out-of-range id makes its forward outputs NaN and its gradient contribution
// is dropped (cross-entropy: a valid row with an out-of-range target gets a
// NaN loss).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "lsk/core/shape.hpp"
#include "lsk/ops/adamw_coefficients.hpp"
#include "lsk/ops/rope_layout.hpp"

namespace lsk::cuda::kernels {

// ---- element-wise (elementwise_kernels.cu) -----------------------------------
template <class T>
void add(const T* a, const T* b, T* y, index_t n, cudaStream_t stream);
template <class T>
void mul(const T* a, const T* b, T* y, index_t n, cudaStream_t stream);
template <class T>
void scale(const T* x, T alpha, T* y, index_t n, cudaStream_t stream);  // y may be x
template <class T>
void axpy(T alpha, const T* x, T* y, index_t n, cudaStream_t stream);
template <class T>
void fill(T* y, T value, index_t n, cudaStream_t stream);
template <class T>
void adamw_update(T* param, const T* grad, T* m, T* v, adamw_coefficients<T> c, index_t n, cudaStream_t stream);
template <class T>
void silu_forward(const T* x, T* y, index_t n, cudaStream_t stream);
template <class T>
void silu_backward(const T* x, const T* dy, T* dx, index_t n, cudaStream_t stream);
template <class T>
void swiglu_forward(const T* gate, const T* up, T* y, index_t n, cudaStream_t stream);
template <class T>
void swiglu_backward(const T* gate, const T* up, const T* dy, T* dgate, T* dup, index_t n, cudaStream_t stream);
// y (rows, n) = row (n) repeated.
template <class T>
void broadcast_rows(const T* row, T* y, index_t rows, index_t n, cudaStream_t stream);

// ---- embedding (embedding_kernels.cu) ----------------------------------------
template <class T>
void embedding_forward(const std::int32_t* ids, index_t count, const T* table, index_t vocab, index_t dim, T* out,
                       cudaStream_t stream);
template <class T>
void embedding_backward(const std::int32_t* ids, index_t count, const T* dout, index_t vocab, index_t dim, T* dtable,
                        cudaStream_t stream);

// ---- RMSNorm (norm_kernels.cu) -----------------------------------------------
template <class T>
void rmsnorm_forward(const T* x, const T* w, T eps, T* y, T* rstd, index_t rows, index_t d, cudaStream_t stream);
template <class T>
void rmsnorm_backward(const T* dy, const T* x, const T* w, const T* rstd, T* dx, T* dw, index_t rows, index_t d,
                      cudaStream_t stream);

// ---- softmax and cross-entropy (softmax_kernels.cu) --------------------------
// Rows of n; causal: the rows are (..., queries, n) with n >= queries;
// queries == 0 means no mask.
template <class T>
void softmax_forward(const T* x, T scale, T* y, index_t rows, index_t n, index_t queries, cudaStream_t stream);
template <class T>
void softmax_backward(const T* y, const T* dy, T scale, T* dx, index_t rows, index_t n, cudaStream_t stream);
// Returns the sum over rows with mask != 0 of lse[r] - logits[r, target[r]] (waits).
template <class T>
double cross_entropy_forward(const T* logits, const std::int32_t* targets, const std::uint8_t* mask, T* lse,
                             index_t rows, index_t vocab, cudaStream_t stream);
template <class T>
void cross_entropy_backward(const T* logits, const std::int32_t* targets, const std::uint8_t* mask, const T* lse,
                            T scale, T* dlogits, index_t rows, index_t vocab, cudaStream_t stream);

// ---- RoPE (rope_kernels.cu) --------------------------------------------------
// x, y: (tokens, heads, head_dim); cos, sin: (table_rows, half). sign +1
// rotates forward, -1 applies the transpose (backward). y may be x.
template <class T>
void rope(const T* x, const std::int32_t* positions, const T* cos, const T* sin, index_t tokens, index_t heads,
          index_t head_dim, index_t half, index_t table_rows, rope_layout layout, int sign, T* y, cudaStream_t stream);

// ---- reductions (reduction_kernels.cu) ---------------------------------------
// Whole-array reductions accumulated in double; they wait for the result.
template <class T>
double sum(const T* x, index_t n, cudaStream_t stream);
template <class T>
double sum_squares(const T* x, index_t n, cudaStream_t stream);
// The sum of sum_squares over `count` tensors (xs[i] with ns[i] elements), with one wait.
template <class T>
double sum_squares_total(const T* const* xs, const index_t* ns, std::size_t count, cudaStream_t stream);
template <class T>
double max_abs(const T* x, index_t n, cudaStream_t stream);
// y (n) = sum over rows of x (rows, n), overwriting y.
template <class T>
void sum_rows(const T* x, T* y, index_t rows, index_t n, cudaStream_t stream);

}  // namespace lsk::cuda::kernels
