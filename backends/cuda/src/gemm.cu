// backends/cuda/src/gemm.cu: lsk's row-major gemm_problem on cuBLAS.
//
// Algorithm: C^T = op(B)^T op(A)^T in column-major terms (see gemm.hpp): one
// cublas{S,D}gemm call, or one cublas{S,D}gemmStridedBatched call for a batch
// (a stride of 0 broadcasts an operand). k == 0 is handled here, without
// cuBLAS: C = beta C, or C = 0 when beta == 0 (C is then not read).
// Numerics: cuBLAS's; f32 in true FP32 (CUBLAS_DEFAULT_MATH, so no TF32
// unless NVIDIA_TF32_OVERRIDE forces it), or on request TF32 tensor cores, or
// bf16 tensor cores: the addressed elements of A and B are first packed into
// compact bf16 copies (round to nearest even, lsk::bf16's rounding, in a
// scratch buffer the handle keeps), then cublasGemmEx /
// cublasGemmStridedBatchedEx multiplies the bf16 operands with f32
// accumulation (CUBLAS_COMPUTE_32F) into the f32 C. The packing moves 6 bytes
// per operand element at the card's copy rate; the product then reads half
// the bytes and runs at the bf16 tensor-core rate (about twice TF32's). A
// contiguous operand (most are: weights, activations, their gradients) is
// packed as one flat array by f32_to_bf16 (convert.cu: full blocks of four
// elements per thread); a strided one row by row.
// Inside a reuse scope the copies accumulate in the scratch buffer (which
// grows by copying what it holds) and are looked up by their source before
// packing; a product's C span drops the kept copies it overlaps.
#include <cublas_v2.h>

#include <cstdint>
#include <limits>

#include "bf16_convert.cuh"
#include "common.cuh"
#include "lsk/backends/cuda/convert.hpp"
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

// Packs an operand into a compact bf16 copy: out[(b * rows + r) * cols + c] =
// bf16(in[b * stride + r * ld + c]). Grid: x over the columns (four per thread
// in the vec4 form), y over the batches' rows (grid-stride beyond 65535).
__global__ void pack_bf16_scalar(packed_operand in, std::uint16_t* __restrict__ out) {
  const index_t c = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= in.cols) return;
  for (index_t row = blockIdx.y; row < in.batches * in.rows; row += gridDim.y) {
    const index_t b = row / in.rows, r = row - b * in.rows;
    out[row * in.cols + c] = bf16::round_from_float(in.data[b * in.stride + r * in.ld + c]);
  }
}

// The same with one 16-byte load and one 8-byte store per thread: cols, ld and
// stride multiples of 4, data 16-byte aligned, out 8-byte aligned.
__global__ void pack_bf16_vec4(packed_operand in, std::uint16_t* __restrict__ out) {
  const index_t c4 = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const index_t groups = in.cols / 4;
  if (c4 >= groups) return;
  for (index_t row = blockIdx.y; row < in.batches * in.rows; row += gridDim.y) {
    const index_t b = row / in.rows, r = row - b * in.rows;
    const auto* src = reinterpret_cast<const float4*>(in.data + b * in.stride + r * in.ld);
    reinterpret_cast<uint2*>(out + row * in.cols)[c4] = device::pack_bf16x4(src[c4]);
  }
}

bool aligned_to(const void* p, std::uintptr_t bytes) { return reinterpret_cast<std::uintptr_t>(p) % bytes == 0; }

void pack_bf16(const packed_operand& in, std::uint16_t* out, cudaStream_t stream) {
  if (in.contiguous()) {  // out[i] = bf16(in.data[i]) for every element
    f32_to_bf16(in.data, reinterpret_cast<bf16*>(out), static_cast<std::size_t>(in.elements()), stream);
    return;
  }
  const bool vec4 = in.cols % 4 == 0 && (in.rows <= 1 || in.ld % 4 == 0) && (in.batches <= 1 || in.stride % 4 == 0) &&
                    aligned_to(in.data, 16) && aligned_to(out, 8);
  const index_t threads_x = vec4 ? in.cols / 4 : in.cols;
  const index_t rows = in.batches * in.rows;
  const dim3 grid(static_cast<unsigned>((threads_x + device::block_threads - 1) / device::block_threads),
                  static_cast<unsigned>(rows < 65535 ? rows : 65535));
  if (vec4) {
    pack_bf16_vec4<<<grid, device::block_threads, 0, stream>>>(in, out);
    LSK_CUDA_CHECK_LAUNCH("pack_bf16_vec4");
  } else {
    pack_bf16_scalar<<<grid, device::block_threads, 0, stream>>>(in, out);
    LSK_CUDA_CHECK_LAUNCH("pack_bf16_scalar");
  }
}

template <class T>
void run_gemm(cublasHandle_t handle, cudaStream_t stream, const gemm_problem<T>& g) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0) return;
  if (g.k == 0) {
    scale_c_kernel<T><<<device::blocks_for(g.batch * g.m * g.n), device::block_threads, 0, stream>>>(
        g.c, g.batch, g.m, g.n, g.ldc, g.stride_c, g.beta);
    LSK_CUDA_CHECK_LAUNCH("scale_c_kernel");
    return;
  }
  const gemm_operand<T> a = operand_a(g), b = operand_b(g);  // as stored
  const int m = to_int(g.n, "n"), n = to_int(g.m, "m"), k = to_int(g.k, "k");
  const int lda = to_int(leading_dim(g.lda, a.rows, a.cols), "lda");
  const int ldb = to_int(leading_dim(g.ldb, b.rows, b.cols), "ldb");
  const int ldc = to_int(leading_dim(g.ldc, g.m, g.n), "ldc");
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const T alpha = g.alpha, beta = g.beta;
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

std::uint16_t* bf16_scratch::reserve(std::size_t elements, std::size_t keep, cudaStream_t stream) {
  if (elements > capacity_) {
    void* p = nullptr;
    const std::size_t grown = elements + elements / 4;  // headroom against a slowly growing need
    LSK_CUDA_CHECK(cudaMalloc(&p, grown * sizeof(std::uint16_t)));
    if (data_ != nullptr) {
      if (keep > 0) {
        LSK_CUDA_CHECK(cudaMemcpyAsync(p, data_, keep * sizeof(std::uint16_t), cudaMemcpyDeviceToDevice, stream));
      }
      // cudaFree waits for the device: the copy, and products still reading the old buffer, finish first.
      LSK_CUDA_CHECK(cudaFree(data_));
    }
    data_ = static_cast<std::uint16_t*>(p);
    capacity_ = grown;
  }
  return data_;
}

bf16_scratch::~bf16_scratch() {
  if (data_ != nullptr) static_cast<void>(cudaFree(data_));
}

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
  if (precision == matmul_precision::bf16 && g.batch > 0 && g.m > 0 && g.n > 0 && g.k > 0) {
    run_bf16(g);
  } else {
    run_gemm(handle_, stream_, g);
  }
}

void blas_handle::run(const gemm_problem<double>& g) { run_gemm(handle_, stream_, g); }

void blas_handle::end_reuse() noexcept {
  if (reuse_depth_ > 0 && --reuse_depth_ == 0) {
    kept_.clear();
    scratch_used_ = 0;
  }
}

std::size_t blas_handle::packed(packed_operand op) {
  if (reuse_depth_ > 0) {
    for (const auto& k : kept_) {
      if (k.same_source(op)) return k.offset;
    }
  }
  op.offset = (scratch_used_ + 7) / 8 * 8;  // 16-byte aligned copies
  const std::size_t end = op.offset + static_cast<std::size_t>(op.elements());
  std::uint16_t* base = scratch_.reserve(end, scratch_used_, stream_);
  pack_bf16(op, base + op.offset, stream_);
  scratch_used_ = end;
  if (reuse_depth_ > 0) kept_.push_back(op);
  return op.offset;
}

void blas_handle::run_bf16(const gemm_problem<float>& g) {
  // The operands as stored; a broadcast operand (stride 0) is packed once.
  const gemm_operand<float> a = operand_a(g), b = operand_b(g);
  // Offsets, not pointers: packing B may grow (move) the buffer that holds A's copy.
  const std::size_t a_offset = packed({a});
  const std::size_t b_offset = packed({b});
  const std::uint16_t* a16 = scratch_.data() + a_offset;
  const std::uint16_t* b16 = scratch_.data() + b_offset;

  const int m = to_int(g.n, "n"), n = to_int(g.m, "m"), k = to_int(g.k, "k");
  const int lda = to_int(a.cols, "lda"), ldb = to_int(b.cols, "ldb");  // the copies are compact
  const int ldc = to_int(leading_dim(g.ldc, g.m, g.n), "ldc");
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const float alpha = g.alpha, beta = g.beta;
  if (g.batch == 1) {
    LSK_CUBLAS_CHECK(cublasGemmEx(handle_, op_b, op_a, m, n, k, &alpha, b16, CUDA_R_16BF, ldb, a16, CUDA_R_16BF, lda,
                                  &beta, g.c, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  } else {
    const long long sa = g.stride_a == 0 ? 0 : a.rows * a.cols, sb = g.stride_b == 0 ? 0 : b.rows * b.cols;
    LSK_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle_, op_b, op_a, m, n, k, &alpha, b16, CUDA_R_16BF, ldb, sb, a16,
                                                CUDA_R_16BF, lda, sa, &beta, g.c, CUDA_R_32F, ldc, g.stride_c,
                                                to_int(g.batch, "batch"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  if (reuse_depth_ == 0) {
    scratch_used_ = 0;  // nothing is kept outside a scope
    return;
  }
  // C's elements are new: a kept copy of anything they overlap is stale now.
  const gemm_operand<float> c = output_c(g);
  std::erase_if(kept_, [&](const packed_operand& op) { return c.overlaps(op); });
}

}  // namespace lsk::cuda
