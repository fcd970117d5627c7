// bench/cpu/bench_attention.cpp: causal attention throughput and memory on the
// cpu, tiled (lsk/attention/tiled.hpp) beside the naive attention where the
// naive one's quadratic buffers fit.
//
// Shapes: one sequence of `len` tokens, `heads` query heads sharing
// `kv_heads` kv heads, head_dim 64 or 128, f32, scale 1/sqrt(head_dim).
// FLOPs count the causal half only, len (len + 1) / 2 query/key pairs:
//   forward 4 * pairs * head_dim * heads (S = QK^T and O = PV),
//   backward 2.5x forward (S recomputed, dV, dP, dK, dQ), fwd+bwd 3.5x.
// Counters: GFLOP/s (rate), attn_MiB = the bytes the attention itself holds
// (inputs, outputs, saved state and scratch; the naive attention's quadratic
// probabilities included), rss_MiB = the process's peak resident set so far,
// products = backend matrix-product calls per iteration (each a kernel launch
// on a device backend).
// Run: bench/cpu/run_attention.sh (prints the docs/PERFORMANCE.md tables), or
//   OMP_NUM_THREADS=2 build/bench/bench_attention --benchmark_filter=tiled_fwd/
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cmath>
#include <cstdint>
#include <string_view>

// GCC 12 -march=native: false -Wmaybe-uninitialized in AVX-512 intrinsics
// inlined into the cpu backend's softmax (used by the naive attention).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "lsk/attention/naive.hpp"
#include "lsk/attention/tiled.hpp"
#include "lsk/backends/cpu/backend.hpp"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include "lsk/testing/random.hpp"

namespace {
using lsk::index_t;
using lsk::shape;
using lsk::tensor;
namespace att = lsk::attention;

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

struct inputs {
  att::attention_shape s;
  tensor<float> q, k, v, dout, out, dq, dk, dv;
  inputs(index_t batch, index_t len, index_t heads, index_t kv_heads, index_t head_dim)
      : s{batch, len, len, heads, kv_heads, head_dim} {
    lsk::rng g(42);
    const index_t tokens = batch * len;
    q = lsk::testing::random_tensor<float>(g, shape{tokens, heads, head_dim});
    k = lsk::testing::random_tensor<float>(g, shape{tokens, kv_heads, head_dim});
    v = lsk::testing::random_tensor<float>(g, shape{tokens, kv_heads, head_dim});
    dout = lsk::testing::random_tensor<float>(g, shape{tokens, heads, head_dim});
    out = tensor<float>(q.extents());
    dq = tensor<float>(q.extents());
    dk = tensor<float>(k.extents());
    dv = tensor<float>(k.extents());
  }
  double forward_flops() const {
    const double pairs = double(s.q_len) * double(s.q_len + 1) / 2.0;
    return 4.0 * pairs * double(s.head_dim) * double(s.heads) * double(s.batch);
  }
  float scale() const { return static_cast<float>(1.0 / std::sqrt(double(s.head_dim))); }
  double io_bytes(bool backward) const {
    const double qsz = double(q.numel()), ksz = double(k.numel());
    return 4.0 * (backward ? 2.0 * (qsz + qsz + 2 * ksz) : qsz + qsz + 2 * ksz);  // (q, out, k, v) [+ gradients]
  }
};

// The cpu backend, counting its matrix-product calls.
struct counting_cpu : lsk::backends::cpu {
  static constexpr std::string_view name = "counting_cpu";
  std::int64_t products = 0;
  template <lsk::real_scalar T>
  void gemm(const lsk::gemm_problem<T>& g) {
    ++products;
    lsk::backends::cpu::gemm(g);
  }
};

template <class A>
void run(benchmark::State& state, A attention, bool backward, index_t batch = 1) {
  const index_t len = state.range(0), head_dim = state.range(1), heads = state.range(2), kv_heads = state.range(3);
  inputs in(batch, len, heads, kv_heads, head_dim);
  counting_cpu be;
  tensor<float> saved(shape{attention.saved_size(in.s)});
  tensor<float> scratch(shape{backward ? attention.scratch_size(in.s) : 1});
  for (auto _ : state) {
    attention.forward(be, in.s, att::causal_mask(), in.q.view(), in.k.view(), in.v.view(), in.scale(), saved.view(),
                      in.out.view());
    if (backward) {
      attention.backward(be, in.s, att::causal_mask(), in.q.view(), in.k.view(), in.v.view(), in.out.view(),
                         saved.view(), in.dout.view(), in.scale(), scratch.view(), in.dq.view(), in.dk.view(),
                         in.dv.view());
    }
    benchmark::DoNotOptimize(in.out.data());
    benchmark::ClobberMemory();
  }
  const double flops = in.forward_flops() * (backward ? 3.5 : 1.0);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["attn_MiB"] =
      (in.io_bytes(backward) + 4.0 * double(saved.numel() + (backward ? scratch.numel() : 0))) / (1024.0 * 1024.0);
  state.counters["rss_MiB"] = peak_rss_mib();
  state.counters["products"] = static_cast<double>(be.products) / static_cast<double>(state.iterations());
}

void tiled_fwd(benchmark::State& st) { run(st, att::tiled_attention{}, false); }
void tiled_fwdbwd(benchmark::State& st) { run(st, att::tiled_attention{}, true); }
// The backward with dq added under per-tile locks in completion order (not
// bit-reproducible), against the default ordered sum (tiled_fwdbwd).
void tiled_fwdbwd_unordered(benchmark::State& st) {
  run(st, att::tiled_attention{att::tile_config{256, 256, false}}, true);
}
void naive_fwd(benchmark::State& st) { run(st, att::naive_attention{}, false); }
void naive_fwdbwd(benchmark::State& st) { run(st, att::naive_attention{}, true); }
// The default recipe's attention, one training batch: {len, head_dim, heads,
// kv_heads, batch}. At 128 tokens every 256-key tile straddles the causal
// diagonal, so half the scores are masked: what these measure is mostly the
// masked entries' cost (exact zeros, lsk/core/subnormal.hpp).
void tiled_fwdbwd_recipe(benchmark::State& st) { run(st, att::tiled_attention{}, true, st.range(4)); }
void naive_fwdbwd_recipe(benchmark::State& st) { run(st, att::naive_attention{}, true, st.range(4)); }
// The naive attention's two product groupings side by side (lsk/attention/naive.hpp;
// the automatic choice above takes per_head at these shapes).
void naive_fwdbwd_recipe_per_sequence(benchmark::State& st) {
  run(st, att::naive_attention{att::naive_products::per_sequence}, true, st.range(4));
}
void naive_fwdbwd_recipe_per_head(benchmark::State& st) {
  run(st, att::naive_attention{att::naive_products::per_head}, true, st.range(4));
}

// {len, head_dim, heads, kv_heads}
void throughput_shapes(benchmark::internal::Benchmark* b) {
  for (index_t d : {64, 128})
    for (index_t len : {1024, 2048, 4096, 8192, 16384}) b->Args({len, d, 8, 8});
}
void gqa_shapes(benchmark::internal::Benchmark* b) {
  for (index_t d : {64, 128}) b->Args({8192, d, 8, 2});
}
void naive_shapes(benchmark::internal::Benchmark* b) {
  for (index_t d : {64, 128})
    for (index_t len : {1024, 2048, 4096}) b->Args({len, d, 8, 8});
}
void recipe_shapes(benchmark::internal::Benchmark* b) {
  b->Args({128, 32, 4, 2, 16});  // pretraining: 16 x 128 tokens
  b->Args({256, 32, 4, 2, 8});   // sft: 8 x 256
  b->Args({1024, 32, 4, 2, 4});  // long pretraining and long sft: 4 x 1024
}
// Long sequences: one head, so that a point takes seconds, not hours; memory
// is what these show (linear in length).
void long_shapes(benchmark::internal::Benchmark* b) {
  for (index_t len : {32768, 65536, 131072}) b->Args({len, 64, 1, 1});
}

}  // namespace

BENCHMARK(tiled_fwd)->Apply(throughput_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(tiled_fwdbwd)->Apply(throughput_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(tiled_fwd)->Name("tiled_fwd_gqa")->Apply(gqa_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(tiled_fwdbwd)->Name("tiled_fwdbwd_gqa")->Apply(gqa_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(tiled_fwdbwd_unordered)->Apply(throughput_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(tiled_fwdbwd_unordered)
    ->Name("tiled_fwdbwd_unordered_gqa")
    ->Apply(gqa_shapes)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(naive_fwd)->Apply(naive_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(naive_fwdbwd)->Apply(naive_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(tiled_fwdbwd_recipe)->Apply(recipe_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(naive_fwdbwd_recipe)->Apply(recipe_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(naive_fwdbwd_recipe_per_sequence)->Apply(recipe_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(naive_fwdbwd_recipe_per_head)->Apply(recipe_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(tiled_fwd)
    ->Name("tiled_fwd_long")
    ->Apply(long_shapes)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);
BENCHMARK(tiled_fwdbwd)
    ->Name("tiled_fwdbwd_long")
    ->Apply(long_shapes)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

BENCHMARK_MAIN();
