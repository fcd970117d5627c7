// backends/cuda/src/gemm.cu: lsk's row-major gemm_problem on cuBLAS.
//
// Algorithm: C^T = op(B)^T op(A)^T in column-major terms (see gemm.hpp): one
// cublas{S,D}gemm call, or one cublas{S,D}gemmStridedBatched call for a batch
// (a stride of 0 broadcasts an operand). k == 0 is handled here, without
// cuBLAS: C = beta C, or C = 0 when beta == 0 (C is then not read).
// Numerics: cuBLAS's; f32 in true FP32 (CUBLAS_DEFAULT_MATH, so no TF32
// unless NVIDIA_TF32_OVERRIDE forces it), or on request TF32 tensor cores, or
// bf16 tensor cores (cublasGemmEx / cublasGemmStridedBatchedEx on f32
// operands with CUBLAS_COMPUTE_32F_FAST_16BF).
#include <cublas_v2.h>

#include <limits>

#include "common.cuh"
#include "lsk/backends/cuda/gemm.hpp"

namespace lsk::cuda {
namespace {

void check_blas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const char* status_name = cublasGetStatusName(status);
  const char* text = cublasGetStatusString(status);
  throw cublas_error(static_cast<int>(status),
                     detail::concat(call, " failed at ", file, ':', line, ": ",
                                    status_name != nullptr ? status_name : "unknown cuBLAS status", " (",
                                    static_cast<int>(status), "): ", text != nullptr ? text : ""));
}

#define LSK_CUBLAS_CHECK(...) check_blas((__VA_ARGS__), #__VA_ARGS__, __FILE__, __LINE__)

int to_int(index_t v, const char* what) {
  if (v < 0 || v > index_t{std::numeric_limits<int>::max()}) {
    raise<shape_error>("cuda gemm: ", what, " = ", v, " is outside cuBLAS's 32-bit range");
  }
  return static_cast<int>(v);
}

// C_b = beta C_b (0 when beta == 0) over the batch: the k == 0 product.
template <class T>
__global__ void scale_c_kernel(T* c, index_t batch, index_t m, index_t n, index_t ldc, index_t stride_c, T beta) {
  const index_t total = batch * m * n;
  for (index_t i = device::global_index(); i < total; i += device::global_stride()) {
    const index_t b = i / (m * n), rest = i - b * m * n, r = rest / n, col = rest - r * n;
    T& out = c[b * stride_c + r * ldc + col];
    out = beta == T(0) ? T(0) : beta * out;
  }
}

// The column-major leading dimension of a row-major (rows, cols) operand with
// row pitch ld: cuBLAS needs ld >= cols (its column-major row count) even when
// there is one row and the pitch means nothing.
index_t leading_dim(index_t ld, index_t rows, index_t cols) {
  if (rows <= 1 && ld < cols) return cols < 1 ? 1 : cols;
  return ld < 1 ? 1 : ld;
}

template <class T>
void run_gemm(cublasHandle_t handle, cudaStream_t stream, const gemm_problem<T>& g, bool bf16_tensor_cores) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0) return;
  if (g.k == 0) {
    scale_c_kernel<T><<<device::blocks_for(g.batch * g.m * g.n), device::block_threads, 0, stream>>>(
        g.c, g.batch, g.m, g.n, g.ldc, g.stride_c, g.beta);
    LSK_CUDA_CHECK_LAUNCH("scale_c_kernel");
    return;
  }
  // Stored extents of the row-major operands.
  const index_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const index_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
  const int m = to_int(g.n, "n"), n = to_int(g.m, "m"), k = to_int(g.k, "k");
  const int lda = to_int(leading_dim(g.lda, a_rows, a_cols), "lda");
  const int ldb = to_int(leading_dim(g.ldb, b_rows, b_cols), "ldb");
  const int ldc = to_int(leading_dim(g.ldc, g.m, g.n), "ldc");
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const T alpha = g.alpha, beta = g.beta;
  if constexpr (std::is_same_v<T, float>) {
    if (bf16_tensor_cores) {
      const long long sa = g.stride_a, sb = g.stride_b, sc = g.stride_c;
      LSK_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
          handle, op_b, op_a, m, n, k, &alpha, g.b, CUDA_R_32F, ldb, sb, g.a, CUDA_R_32F, lda, sa, &beta, g.c,
          CUDA_R_32F, ldc, sc, to_int(g.batch, "batch"), CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT));
      return;
    }
  }
  if (g.batch == 1) {
    if constexpr (std::is_same_v<T, float>) {
      LSK_CUBLAS_CHECK(cublasSgemm(handle, op_b, op_a, m, n, k, &alpha, g.b, ldb, g.a, lda, &beta, g.c, ldc));
    } else {
      LSK_CUBLAS_CHECK(cublasDgemm(handle, op_b, op_a, m, n, k, &alpha, g.b, ldb, g.a, lda, &beta, g.c, ldc));
    }
    return;
  }
  const int batch = to_int(g.batch, "batch");
  const long long sa = g.stride_a, sb = g.stride_b, sc = g.stride_c;
  if constexpr (std::is_same_v<T, float>) {
    LSK_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, op_b, op_a, m, n, k, &alpha, g.b, ldb, sb, g.a, lda, sa, &beta,
                                               g.c, ldc, sc, batch));
  } else {
    LSK_CUBLAS_CHECK(cublasDgemmStridedBatched(handle, op_b, op_a, m, n, k, &alpha, g.b, ldb, sb, g.a, lda, sa, &beta,
                                               g.c, ldc, sc, batch));
  }
}

}  // namespace

blas_handle::blas_handle(cudaStream_t stream) : stream_(stream) {
  cublasHandle_t h = nullptr;
  LSK_CUBLAS_CHECK(cublasCreate(&h));
  handle_ = h;
  try {
    LSK_CUBLAS_CHECK(cublasSetStream(h, stream));
    LSK_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  } catch (...) {
    static_cast<void>(cublasDestroy(h));
    throw;
  }
}

blas_handle::~blas_handle() {
  if (handle_ != nullptr) static_cast<void>(cublasDestroy(handle_));
}

void blas_handle::run(const gemm_problem<float>& g, matmul_precision precision) {
  LSK_CUBLAS_CHECK(cublasSetMathMode(
      handle_, precision == matmul_precision::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  run_gemm(handle_, stream_, g, precision == matmul_precision::bf16);
}

void blas_handle::run(const gemm_problem<double>& g) { run_gemm(handle_, stream_, g, false); }

}  // namespace lsk::cuda
