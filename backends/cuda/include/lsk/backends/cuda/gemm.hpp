// lsk/backends/cuda/gemm.hpp: lsk's row-major gemm_problem on cuBLAS.
//
// Host declarations (compile with any C++20 compiler; cuBLAS's own headers are
// needed only by backends/cuda/src/gemm.cu). A blas_handle owns one cuBLAS
// handle bound to one stream; run() enqueues C_b = alpha op(A_b) op(B_b) +
// beta C_b for every b of the batch and returns without waiting.
//
// Mapping: a row-major (r, c) matrix with pitch ld is the column-major (c, r)
// matrix with the same ld, so C^T = op(B)^T op(A)^T is one column-major
// product with the operands swapped: gemm(op_b, op_a, n, m, k, B, A, C).
// Batches go to cublas{S,D}gemmStridedBatched (stride 0 broadcasts A or B).
// f32 runs in the asked matmul_precision: f32 (true FP32, CUBLAS_DEFAULT_MATH),
// tf32 (CUBLAS_TF32_TENSOR_OP_MATH: 10-bit mantissa inputs, f32 accumulation)
// or bf16: the operands are rounded to bf16 (8-bit mantissas, nearest even)
// into compact copies in a scratch buffer the handle keeps, and cublasGemmEx
// multiplies those on bf16 tensor cores with f32 accumulation and f32 output:
// mixed precision with the operands kept in f32, as autocast does. (cuBLAS's
// CUBLAS_COMPUTE_32F_FAST_16BF on f32 operands, the obvious alternative,
// permits bf16 kernels without demanding them: on an H100 it ran TF32 ones.)
// The result is that of an f32-accumulated product of the bf16-rounded
// operands. Between begin_reuse() and end_reuse() (lsk::gemm_operand_reuse)
// the bf16 copies are kept, and a product that reads an operand already copied
// in the scope (same address, extents, pitch and batch stride) uses the copy;
// a product whose C overlaps a kept operand's elements drops that copy.
// f64 is always exact IEEE double. k == 0 gives C = beta C (C = 0 when beta == 0).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lsk/core/error.hpp"
#include "lsk/ops/gemm_problem.hpp"

struct cublasContext;  // cuBLAS's opaque handle type (cublasHandle_t is cublasContext*)

namespace lsk {

// A cuBLAS call failed; status() is its cublasStatus_t as an int.
class cublas_error : public error {
 public:
  cublas_error(int status, const std::string& message) : error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

namespace cuda {

enum class matmul_precision { f32, tf32, bf16 };

// Device memory for the bf16 copies of products' operands; grows to the
// largest need seen (plus a quarter) and is kept until the handle goes.
class bf16_scratch {
 public:
  bf16_scratch() = default;
  ~bf16_scratch();
  bf16_scratch(const bf16_scratch&) = delete;
  bf16_scratch& operator=(const bf16_scratch&) = delete;
  // At least `elements` bf16 values (raw bit patterns); the first `keep`
  // elements keep their contents (copied on `stream` when the buffer grows).
  std::uint16_t* reserve(std::size_t elements, std::size_t keep, cudaStream_t stream);
  std::uint16_t* data() const noexcept { return data_; }

 private:
  std::uint16_t* data_ = nullptr;
  std::size_t capacity_ = 0;
};

// An f32 operand as stored (lsk/ops/gemm_problem.hpp), and where its bf16 copy lies.
struct packed_operand : gemm_operand<float> {
  std::size_t offset = 0;  // elements into the scratch buffer
};

class blas_handle {
 public:
  explicit blas_handle(cudaStream_t stream);
  ~blas_handle();
  blas_handle(const blas_handle&) = delete;
  blas_handle& operator=(const blas_handle&) = delete;

  cublasContext* get() const noexcept { return handle_; }

  // Enqueues the product on the handle's stream. Extents and pitches must fit
  // in int (cuBLAS's 32-bit interface); larger problems throw shape_error.
  void run(const gemm_problem<float>& g, matmul_precision precision);
  void run(const gemm_problem<double>& g);

  // A scope of operand reuse (see the top of this file); scopes nest.
  void begin_reuse() noexcept { ++reuse_depth_; }
  void end_reuse() noexcept;

 private:
  void run_bf16(const gemm_problem<float>& g);
  // Where the bf16 copy of `op` lies in the scratch buffer (elements): a kept
  // copy's place, or a new copy's, packed after the scope's others.
  std::size_t packed(packed_operand op);

  cublasContext* handle_ = nullptr;
  cudaStream_t stream_ = nullptr;
  bf16_scratch scratch_;
  int reuse_depth_ = 0;
  std::vector<packed_operand> kept_;  // inside a reuse scope: the copies made so far
  std::size_t scratch_used_ = 0;      // elements of scratch_ holding copies of this product or scope
};

}  // namespace cuda
}  // namespace lsk
