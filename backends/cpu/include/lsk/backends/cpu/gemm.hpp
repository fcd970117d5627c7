// lsk/backends/cpu/gemm.hpp: the cpu backend's matrix product engines.
//
// eigen: Eigen 3.4's blocked GEMM (packs panels of A and B into cache-sized
//        blocks, SIMD micro-kernel, OpenMP over column blocks when compiled
//        with -fopenmp). f32 accumulates in f32 in register tiles.
// blas:  cblas_?gemm of the BLAS the build links (OpenBLAS on Debian), only
//        when LSK_CPU_HAS_CBLAS is defined (CMake option LSK_CPU_BLAS).
// Batches of small matrices run one matrix per thread; a batch of large
// matrices runs the matrices one after another, each using all threads.
// Benchmark: bench/cpu/bench_matmul (see docs/PERFORMANCE.md).
#pragma once

#include <Eigen/Core>

#include "lsk/backends/cpu/parallel.hpp"
#include "lsk/ops/gemm_problem.hpp"

#if defined(LSK_CPU_HAS_CBLAS)
#include <cblas.h>
#endif

namespace lsk::backends {

enum class gemm_engine { eigen, blas };

constexpr bool blas_available() {
#if defined(LSK_CPU_HAS_CBLAS)
  return true;
#else
  return false;
#endif
}

namespace cpu_detail {

template <class T>
using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using const_matrix_map = Eigen::Map<const row_matrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using matrix_map = Eigen::Map<row_matrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class T>
void eigen_gemm_one(const gemm_problem<T>& g, const T* a, const T* b, T* c) {
  const_matrix_map<T> am(a, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k, Eigen::OuterStride<>(g.lda));
  const_matrix_map<T> bm(b, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n, Eigen::OuterStride<>(g.ldb));
  matrix_map<T> cm(c, g.m, g.n, Eigen::OuterStride<>(g.ldc));
  if (g.beta == T(0)) {
    cm.setZero();
  } else if (g.beta != T(1)) {
    cm *= g.beta;
  }
  if (g.k == 0) return;
  if (!g.trans_a && !g.trans_b) {
    cm.noalias() += g.alpha * am * bm;
  } else if (g.trans_a && !g.trans_b) {
    cm.noalias() += g.alpha * am.transpose() * bm;
  } else if (!g.trans_a && g.trans_b) {
    cm.noalias() += g.alpha * am * bm.transpose();
  } else {
    cm.noalias() += g.alpha * am.transpose() * bm.transpose();
  }
}

#if defined(LSK_CPU_HAS_CBLAS)
inline void blas_gemm_one(const gemm_problem<float>& g, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(g.m), static_cast<int>(g.n), static_cast<int>(g.k), g.alpha, a, static_cast<int>(g.lda),
              b, static_cast<int>(g.ldb), g.beta, c, static_cast<int>(g.ldc));
}
inline void blas_gemm_one(const gemm_problem<double>& g, const double* a, const double* b, double* c) {
  cblas_dgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(g.m), static_cast<int>(g.n), static_cast<int>(g.k), g.alpha, a, static_cast<int>(g.lda),
              b, static_cast<int>(g.ldb), g.beta, c, static_cast<int>(g.ldc));
}
#endif

template <class T>
void gemm(gemm_engine engine, const gemm_problem<T>& g) {
  auto one = [&](index_t i) {
    const T* a = g.a + i * g.stride_a;
    const T* b = g.b + i * g.stride_b;
    T* c = g.c + i * g.stride_c;
#if defined(LSK_CPU_HAS_CBLAS)
    // BLAS rejects a leading dimension below 1 even for empty matrices.
    if (engine == gemm_engine::blas && g.k > 0 && g.lda > 0 && g.ldb > 0) {
      blas_gemm_one(g, a, b, c);
      return;
    }
#else
    (void)engine;
#endif
    eigen_gemm_one(g, a, b, c);
  };
  const index_t flops_per_matrix = 2 * g.m * g.n * std::max<index_t>(g.k, 1);
  constexpr index_t large_matrix_flops = index_t{1} << 22;  // about a 128^3 product
  if (g.batch > 1 && flops_per_matrix < large_matrix_flops) {
    // One small matrix per thread, always through Eigen (single-threaded inside
    // a parallel region), never calling the BLAS from several threads at once.
    parallel_rows(g.batch, flops_per_matrix,
                  [&](index_t i) { eigen_gemm_one(g, g.a + i * g.stride_a, g.b + i * g.stride_b, g.c + i * g.stride_c); });
  } else {
    for (index_t i = 0; i < g.batch; ++i) one(i);
  }
}

}  // namespace cpu_detail
}  // namespace lsk::backends
