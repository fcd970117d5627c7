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
// or bf16 (cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_16BF: the f32 operands
// are rounded to bf16, 8-bit mantissas, on bf16 tensor cores with f32
// accumulation and f32 output: mixed precision with the operands kept in f32,
// as autocast does). FAST_16BF permits bf16 tensor cores, it does not demand
// them: cuBLAS may pick TF32 kernels (on an H100, a 512^3 product had exactly
// the TF32 error, and an 8192^3 product ran at 452 TFLOP/s against 414 for tf32
// and 782 for bf16 operands). f64 is always exact IEEE double. k == 0 gives C = beta C (C = 0 when beta == 0).
#pragma once

#include <cuda_runtime_api.h>

#include <string>

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

 private:
  cublasContext* handle_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace cuda
}  // namespace lsk
