// lsk/backends/cpu/gemm.hpp: the cpu backend's matrix product engines.
//
// eigen: Eigen 3.4's blocked GEMM (packs panels of A and B into cache-sized
//        blocks, SIMD micro-kernel, OpenMP over column blocks when compiled
//        with -fopenmp). f32 accumulates in f32 in register tiles.
// blas:  cblas_?gemm of the BLAS the build links (OpenBLAS on Debian), only
//        when LSK_CPU_HAS_CBLAS is defined (CMake option LSK_CPU_BLAS).
// Batches of small matrices run one matrix per thread; a batch of large
// matrices runs the matrices one after another, each using all threads.
// Threads: the blas engine runs on OpenMP's threads too. Each product is cut
// into one block of C rows (or columns) per OpenMP thread, and every block is
// a single-threaded cblas call (OpenBLAS held at one thread for the call, its
// previous setting restored after). OpenBLAS's own pthread pool would be a
// second set of busy-waiting threads beside OpenMP's: on a machine with as
// many cores as threads the two pools spin against each other at every switch
// between a matmul and an element-wise op (bench/cpu/bench_llama_train on 2
// cores shared with other work: a training step of the reference Llama config
// ran about 2x faster with the split than with OpenBLAS's pool; see the
// "Llama training step" section of docs/PERFORMANCE.md).
// Benchmark: bench/cpu/bench_matmul (see docs/PERFORMANCE.md).
#pragma once

#include <Eigen/Core>

#include "lsk/backends/cpu/parallel.hpp"
#include "lsk/ops/gemm_problem.hpp"

#if defined(LSK_CPU_HAS_CBLAS)
#include <cblas.h>
// OpenBLAS's thread-count controls (also declared by OpenBLAS's own cblas.h).
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}
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

#if defined(LSK_CPU_HAS_CBLAS)
// Holds OpenBLAS at one thread for its lifetime (see the header comment).
class blas_single_thread {
 public:
  blas_single_thread() : previous_(openblas_get_num_threads()) {
    if (previous_ != 1) openblas_set_num_threads(1);
  }
  ~blas_single_thread() {
    if (previous_ != 1) openblas_set_num_threads(previous_);
  }
  blas_single_thread(const blas_single_thread&) = delete;
  blas_single_thread& operator=(const blas_single_thread&) = delete;

 private:
  int previous_;
};

// One matrix of g through single-threaded cblas calls, its rows (or, when C
// is wider than tall, its columns) split into one block per OpenMP thread.
template <class T>
void blas_gemm_split(const gemm_problem<T>& g, const T* a, const T* b, T* c) {
  const index_t flops = 2 * g.m * g.n * g.k;
  constexpr index_t split_flops = index_t{1} << 21;  // below this a parallel region costs more than it saves
  const index_t threads = max_threads();
  const bool by_rows = g.m >= g.n;
  const index_t extent = by_rows ? g.m : g.n;
  if (threads <= 1 || flops < split_flops || extent < 2 * 16 || in_parallel()) {
    blas_gemm_one(g, a, b, c);
    return;
  }
  const index_t parts = std::min(threads, extent / 16);
  const index_t block = (extent / parts + 15) / 16 * 16;  // multiples of 16 rows/columns
  parallel_rows(parts, split_flops, [&](index_t p) {
    const index_t i0 = p * block, len = std::min(extent, i0 + block) - i0;
    if (len <= 0) return;
    gemm_problem<T> s = g;
    if (by_rows) {
      s.m = len;
      blas_gemm_one(s, a + (g.trans_a ? i0 : i0 * g.lda), b, c + i0 * g.ldc);
    } else {
      s.n = len;
      blas_gemm_one(s, a, b + (g.trans_b ? i0 * g.ldb : i0), c + i0);
    }
  });
}
#endif

template <class T>
void gemm(gemm_engine engine, const gemm_problem<T>& g) {
#if defined(LSK_CPU_HAS_CBLAS)
  // BLAS rejects a leading dimension below 1 even for empty matrices.
  const bool use_blas = engine == gemm_engine::blas && g.k > 0 && g.lda > 0 && g.ldb > 0;
  if (use_blas) {
    const blas_single_thread one_blas_thread;
    const index_t flops_per_matrix = 2 * g.m * g.n * g.k;
    constexpr index_t large_matrix_flops = index_t{1} << 22;
    if (g.batch > 1 && flops_per_matrix < large_matrix_flops) {
      // One small matrix per thread, each a single-threaded cblas call.
      parallel_rows(g.batch, flops_per_matrix, [&](index_t i) {
        blas_gemm_one(g, g.a + i * g.stride_a, g.b + i * g.stride_b, g.c + i * g.stride_c);
      });
    } else {
      for (index_t i = 0; i < g.batch; ++i)
        blas_gemm_split(g, g.a + i * g.stride_a, g.b + i * g.stride_b, g.c + i * g.stride_c);
    }
    return;
  }
#else
  (void)engine;
#endif
  auto one = [&](index_t i) { eigen_gemm_one(g, g.a + i * g.stride_a, g.b + i * g.stride_b, g.c + i * g.stride_c); };
  const index_t flops_per_matrix = 2 * g.m * g.n * std::max<index_t>(g.k, 1);
  constexpr index_t large_matrix_flops = index_t{1} << 22;  // about a 128^3 product
  if (g.batch > 1 && flops_per_matrix < large_matrix_flops) {
    // One small matrix per thread, always through Eigen (single-threaded inside
    // a parallel region), never calling the BLAS from several threads at once.
    parallel_rows(g.batch, flops_per_matrix, [&](index_t i) {
      eigen_gemm_one(g, g.a + i * g.stride_a, g.b + i * g.stride_b, g.c + i * g.stride_c);
    });
  } else {
    for (index_t i = 0; i < g.batch; ++i) one(i);
  }
}

}  // namespace cpu_detail
}  // namespace lsk::backends
