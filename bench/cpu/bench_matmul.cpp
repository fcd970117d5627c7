// bench/cpu/bench_matmul.cpp: f32 matrix products of the cpu backend against
// raw OpenBLAS, reported as GFLOP/s (2*m*n*k per product, wall-clock time).
//
//   matmul/<engine>/<n>        square C = A*B, n = 256 ... 4096, through
//                              lsk::matmul (so the op layer's checks count) with
//                              the cpu backend's eigen or blas engine, and
//                              "openblas": cblas_sgemm called directly.
//   matmul_at_b/<engine>/<n>   C = A^T * B and C = A * B^T (matmul_a_bt) with
//                              transposed views, the shapes of the backward pass.
//   batched_qk/<engine>/...    a batch of 32 attention-head products: scores
//                              (128x64)*(64x128)^T and batched_pv, probs
//                              (128x128)*(128x64); "openblas" loops cblas_sgemm
//                              over the batch.
// Each benchmark runs one untimed product first (page faults, BLAS buffers),
// then times whole products. Threads come from OMP_NUM_THREADS (lsk, Eigen)
// and OPENBLAS_NUM_THREADS (OpenBLAS); run_matmul.sh sets both to 2.
// GCC 12 with -march=native (LSK_NATIVE) reports false -Wmaybe-uninitialized /
// -Wuninitialized warnings inside its AVX-512 intrinsics when Eigen's GEMM
// packing and vectorised exp are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/core.hpp"
#include "lsk/ops.hpp"

#if defined(LSK_BENCH_HAS_OPENBLAS)
#include <cblas.h>
#endif

namespace {

using lsk::index_t;
using lsk::backends::gemm_engine;

lsk::tensor<float> random_tensor(lsk::shape extents, std::uint64_t seed) {
  lsk::tensor<float> t(extents);
  lsk::rng r(seed);
  for (float& v : t.values()) v = r.uniform(-1.0f, 1.0f);
  return t;
}

void report_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP"] =
      benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const char* engine_name(gemm_engine e) { return e == gemm_engine::eigen ? "eigen" : "blas"; }

// How the operands of a two-operand product are stored.
enum class layout { nn, tn, nt };

// C (m, n) = op(A) * op(B) through lsk::matmul on the cpu backend.
void lsk_product(benchmark::State& state, gemm_engine engine, layout lay, index_t m, index_t n, index_t k) {
  lsk::backends::cpu be(lsk::backends::cpu_options{.threads = 0, .gemm = engine});
  const auto a = random_tensor(lay == layout::tn ? lsk::shape{k, m} : lsk::shape{m, k}, 1);
  const auto b = random_tensor(lay == layout::nt ? lsk::shape{n, k} : lsk::shape{k, n}, 2);
  lsk::tensor<float> c(lsk::shape{m, n});
  const lsk::const_view<float> av = lay == layout::tn ? a.view().transpose() : a.view();
  const lsk::const_view<float> bv = lay == layout::nt ? b.view().transpose() : b.view();
  auto run = [&] { lsk::matmul<lsk::backends::cpu, float>(be, av, bv, c.view()); };
  run();
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  report_flops(state, 2.0 * double(m) * double(n) * double(k));
}

// A batch of products (batch, m, k) * (batch, k, n), B optionally stored transposed.
void lsk_batched(benchmark::State& state, gemm_engine engine, bool b_transposed, index_t batch, index_t m, index_t n,
                 index_t k) {
  lsk::backends::cpu be(lsk::backends::cpu_options{.threads = 0, .gemm = engine});
  const auto a = random_tensor(lsk::shape{batch, m, k}, 3);
  const auto b = random_tensor(b_transposed ? lsk::shape{batch, n, k} : lsk::shape{batch, k, n}, 4);
  lsk::tensor<float> c(lsk::shape{batch, m, n});
  const lsk::const_view<float> bv = b_transposed ? b.view().transpose() : b.view();
  auto run = [&] { lsk::matmul<lsk::backends::cpu, float>(be, a.view(), bv, c.view()); };
  run();
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  report_flops(state, 2.0 * double(batch) * double(m) * double(n) * double(k));
}

#if defined(LSK_BENCH_HAS_OPENBLAS)
void openblas_product(benchmark::State& state, layout lay, index_t m, index_t n, index_t k) {
  const auto a = random_tensor(lay == layout::tn ? lsk::shape{k, m} : lsk::shape{m, k}, 1);
  const auto b = random_tensor(lay == layout::nt ? lsk::shape{n, k} : lsk::shape{k, n}, 2);
  lsk::tensor<float> c(lsk::shape{m, n});
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  const CBLAS_TRANSPOSE ta = lay == layout::tn ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = lay == layout::nt ? CblasTrans : CblasNoTrans;
  const int lda = lay == layout::tn ? mi : ki;
  const int ldb = lay == layout::nt ? ki : ni;
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, ta, tb, mi, ni, ki, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), ni);
  };
  run();
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  report_flops(state, 2.0 * double(m) * double(n) * double(k));
}

void openblas_batched(benchmark::State& state, bool b_transposed, index_t batch, index_t m, index_t n, index_t k) {
  const auto a = random_tensor(lsk::shape{batch, m, k}, 3);
  const auto b = random_tensor(b_transposed ? lsk::shape{batch, n, k} : lsk::shape{batch, k, n}, 4);
  lsk::tensor<float> c(lsk::shape{batch, m, n});
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  auto run = [&] {
    for (index_t i = 0; i < batch; ++i) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans, mi, ni, ki, 1.0f,
                  a.data() + i * m * k, ki, b.data() + i * k * n, b_transposed ? ki : ni, 0.0f, c.data() + i * m * n,
                  ni);
    }
  };
  run();
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  report_flops(state, 2.0 * double(batch) * double(m) * double(n) * double(k));
}
#endif

void add(const std::string& name, std::function<void(benchmark::State&)> fn) {
  benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& state) { fn(state); })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

void register_all() {
  std::vector<gemm_engine> engines{gemm_engine::eigen};
  if (lsk::backends::blas_available()) engines.push_back(gemm_engine::blas);

  for (index_t n : {256, 512, 1024, 2048, 4096}) {
    const std::string size = std::to_string(n);
    for (gemm_engine e : engines) {
      add(std::string("matmul/") + engine_name(e) + "/" + size,
          [=](benchmark::State& s) { lsk_product(s, e, layout::nn, n, n, n); });
    }
#if defined(LSK_BENCH_HAS_OPENBLAS)
    add("matmul/openblas/" + size, [=](benchmark::State& s) { openblas_product(s, layout::nn, n, n, n); });
#endif
  }

  // The backward pass's products: dB = A^T dC and dA = dC B^T.
  for (index_t n : {1024, 2048}) {
    const std::string size = std::to_string(n);
    for (gemm_engine e : engines) {
      add(std::string("matmul_at_b/") + engine_name(e) + "/" + size,
          [=](benchmark::State& s) { lsk_product(s, e, layout::tn, n, n, n); });
      add(std::string("matmul_a_bt/") + engine_name(e) + "/" + size,
          [=](benchmark::State& s) { lsk_product(s, e, layout::nt, n, n, n); });
    }
#if defined(LSK_BENCH_HAS_OPENBLAS)
    add("matmul_at_b/openblas/" + size, [=](benchmark::State& s) { openblas_product(s, layout::tn, n, n, n); });
    add("matmul_a_bt/openblas/" + size, [=](benchmark::State& s) { openblas_product(s, layout::nt, n, n, n); });
#endif
  }

  // Attention heads: 32 heads, 128 queries/keys, head dim 64.
  constexpr index_t heads = 32, seq = 128, head_dim = 64;
  for (gemm_engine e : engines) {
    add(std::string("batched_qk/") + engine_name(e) + "/32x128x128x64",
        [=](benchmark::State& s) { lsk_batched(s, e, true, heads, seq, seq, head_dim); });
    add(std::string("batched_pv/") + engine_name(e) + "/32x128x64x128",
        [=](benchmark::State& s) { lsk_batched(s, e, false, heads, seq, head_dim, seq); });
  }
#if defined(LSK_BENCH_HAS_OPENBLAS)
  add("batched_qk/openblas/32x128x128x64",
      [=](benchmark::State& s) { openblas_batched(s, true, heads, seq, seq, head_dim); });
  add("batched_pv/openblas/32x128x64x128",
      [=](benchmark::State& s) { openblas_batched(s, false, heads, seq, head_dim, seq); });
#endif
}

std::string env_or_unset(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string("(unset)");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("lsk_threads", std::to_string(lsk::backends::cpu::threads()));
  benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
  benchmark::AddCustomContext("default_gemm_engine", lsk::backends::blas_available() ? "blas" : "eigen");
  for (const char* var : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}) {
    benchmark::AddCustomContext(var, env_or_unset(var));
  }
#if defined(LSK_BENCH_HAS_OPENBLAS)
  benchmark::AddCustomContext("openblas_corename", openblas_get_corename());
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
#endif
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
