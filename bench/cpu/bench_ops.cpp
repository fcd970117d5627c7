// bench/cpu/bench_ops.cpp: every cpu backend op other than matmul, in GB/s,
// with the reference backend at one size beside it for a speed ratio.
//
// Names are <op>/<backend>/<rows>x<cols>. Sizes: 4096 x 512 (tokens x model
// dim; each f32 tensor 8 MiB, a few of them fit the 32 MiB L3) and 4096 x 4096
// (64 MiB per tensor: DRAM-bound, or a 4096-token vocab for cross-entropy, or
// one 4096x4096 attention score matrix). The reference backend runs at
// 4096 x 512 only. Softmax ops see the rows as (heads, queries, keys) with
// queries = keys = cols. Embedding tables have 4096 rows.
// GB/s counts the bytes an op must read plus write once (inputs, outputs,
// parameter gradients read and written), divided by wall-clock time; ops that
// are compute-bound (exp in silu, softmax, cross-entropy) show it as a low
// rate. Every op is called through the lsk free functions (shape checks
// included), once untimed before the timed loop.
// GCC 12 with -march=native (LSK_NATIVE) reports false -Wmaybe-uninitialized /
// -Wuninitialized warnings inside its AVX-512 intrinsics when Eigen's GEMM
// packing and vectorised exp are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/backends/reference/backend.hpp"
#include "lsk/core.hpp"
#include "lsk/ops.hpp"

namespace {

using lsk::index_t;
constexpr index_t fsize = sizeof(float);
constexpr index_t vocab_rows = 4096;  // embedding table rows

lsk::tensor<float> random_tensor(lsk::shape extents, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  lsk::tensor<float> t(extents);
  lsk::rng r(seed);
  for (float& v : t.values()) v = r.uniform(lo, hi);
  return t;
}

lsk::tensor<std::int32_t> random_ids(index_t n, index_t below, std::uint64_t seed) {
  lsk::tensor<std::int32_t> t(lsk::shape{n});
  lsk::rng r(seed);
  for (auto& v : t.values()) v = static_cast<std::int32_t>(r.below(static_cast<std::uint32_t>(below)));
  return t;
}

template <class Run>
void measure(benchmark::State& state, Run&& run, double bytes) {
  run();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  state.counters["GB"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// One op on backend B at (rows, cols).
template <class B>
using op_fn = std::function<void(benchmark::State&, B&, index_t, index_t)>;

template <class B>
std::vector<std::pair<std::string, op_fn<B>>> all_ops() {
  using T = float;
  std::vector<std::pair<std::string, op_fn<B>>> ops;
  auto add = [&](std::string name, op_fn<B> fn) { ops.emplace_back(std::move(name), std::move(fn)); };

  add("embedding_forward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto ids = random_ids(rows, vocab_rows, 1);
    const auto table = random_tensor({vocab_rows, cols}, 2);
    lsk::tensor<T> out(lsk::shape{rows, cols});
    measure(
        s, [&] { lsk::embedding_forward<B, T>(be, ids.view(), table.view(), out.view()); },
        double(rows * 4 + 2 * rows * cols * fsize));
  });
  add("embedding_backward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto ids = random_ids(rows, vocab_rows, 1);
    const auto dout = random_tensor({rows, cols}, 3);
    lsk::tensor<T> dtable(lsk::shape{vocab_rows, cols});
    measure(
        s, [&] { lsk::embedding_backward<B, T>(be, ids.view(), dout.view(), dtable.view()); },
        double(rows * 4 + 3 * rows * cols * fsize));
  });
  add("rmsnorm_forward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows, cols}, 4);
    const auto w = random_tensor({cols}, 5, 0.5f, 1.5f);
    lsk::tensor<T> y(lsk::shape{rows, cols}), rstd(lsk::shape{rows});
    measure(
        s, [&] { lsk::rmsnorm_forward<B, T>(be, x.view(), w.view(), T(1e-5), y.view(), rstd.view()); },
        double((2 * rows * cols + cols + rows) * fsize));
  });
  add("rmsnorm_backward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows, cols}, 4);
    const auto dy = random_tensor({rows, cols}, 6);
    const auto w = random_tensor({cols}, 5, 0.5f, 1.5f);
    const auto rstd = random_tensor({rows}, 7, 0.5f, 2.0f);
    lsk::tensor<T> dx(lsk::shape{rows, cols}), dw(lsk::shape{cols});
    measure(
        s, [&] { lsk::rmsnorm_backward<B, T>(be, dy.view(), x.view(), w.view(), rstd.view(), dx.view(), dw.view()); },
        double((3 * rows * cols + rows + 3 * cols) * fsize));
  });
  add("silu_forward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows, cols}, 8, -4.0f, 4.0f);
    lsk::tensor<T> y(lsk::shape{rows, cols});
    measure(
        s, [&] { lsk::silu_forward<B, T>(be, x.view(), y.view()); }, double(2 * rows * cols * fsize));
  });
  add("silu_backward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows, cols}, 8, -4.0f, 4.0f);
    const auto dy = random_tensor({rows, cols}, 9);
    lsk::tensor<T> dx(lsk::shape{rows, cols});
    measure(
        s, [&] { lsk::silu_backward<B, T>(be, x.view(), dy.view(), dx.view()); }, double(3 * rows * cols * fsize));
  });
  add("swiglu_forward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto g = random_tensor({rows, cols}, 10, -4.0f, 4.0f);
    const auto u = random_tensor({rows, cols}, 11);
    lsk::tensor<T> y(lsk::shape{rows, cols});
    measure(
        s, [&] { lsk::swiglu_forward<B, T>(be, g.view(), u.view(), y.view()); }, double(3 * rows * cols * fsize));
  });
  add("swiglu_backward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto g = random_tensor({rows, cols}, 10, -4.0f, 4.0f);
    const auto u = random_tensor({rows, cols}, 11);
    const auto dy = random_tensor({rows, cols}, 12);
    lsk::tensor<T> dg(lsk::shape{rows, cols}), du(lsk::shape{rows, cols});
    measure(
        s, [&] { lsk::swiglu_backward<B, T>(be, g.view(), u.view(), dy.view(), dg.view(), du.view()); },
        double(5 * rows * cols * fsize));
  });
  add("softmax_forward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows / cols, cols, cols}, 13, -8.0f, 8.0f);
    lsk::tensor<T> y(x.extents());
    measure(
        s, [&] { lsk::softmax_forward<B, T>(be, x.view(), T(0.125), y.view()); }, double(2 * rows * cols * fsize));
  });
  add("causal_softmax_forward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows / cols, cols, cols}, 13, -8.0f, 8.0f);
    lsk::tensor<T> y(x.extents());
    const index_t visible = (rows / cols) * cols * (cols + 1) / 2;  // read; all of y is written
    measure(
        s, [&] { lsk::causal_softmax_forward<B, T>(be, x.view(), T(0.125), y.view()); },
        double((visible + rows * cols) * fsize));
  });
  add("softmax_backward", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows / cols, cols, cols}, 13, -8.0f, 8.0f);
    const auto dy = random_tensor(x.extents(), 14);
    lsk::tensor<T> y(x.extents()), dx(x.extents());
    lsk::softmax_forward<B, T>(be, x.view(), T(0.125), y.view());
    measure(
        s, [&] { lsk::softmax_backward<B, T>(be, y.view(), dy.view(), T(0.125), dx.view()); },
        double(3 * rows * cols * fsize));
  });
  // Cross-entropy: rows tokens, cols-word vocabulary, one token in 8 masked.
  auto ce_inputs = [](index_t rows, index_t cols) {
    auto logits = random_tensor({rows, cols}, 15, -6.0f, 6.0f);
    auto targets = random_ids(rows, cols, 16);
    lsk::tensor<std::uint8_t> mask(lsk::shape{rows}, std::uint8_t{1});
    for (index_t r = 0; r < rows; r += 8) mask.values()[static_cast<std::size_t>(r)] = 0;
    return std::tuple{std::move(logits), std::move(targets), std::move(mask)};
  };
  add("cross_entropy_forward", [ce_inputs](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto [logits, targets, mask] = ce_inputs(rows, cols);
    lsk::tensor<T> lse(lsk::shape{rows});
    measure(
        s,
        [&] {
          auto r = lsk::cross_entropy_forward<B, T>(be, logits.view(), targets.view(), mask.view(), lse.view());
          benchmark::DoNotOptimize(r);
        },
        double(rows * cols * fsize + rows * (4 + 1 + fsize)));
  });
  add("cross_entropy_backward", [ce_inputs](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto [logits, targets, mask] = ce_inputs(rows, cols);
    lsk::tensor<T> lse(lsk::shape{rows}), dlogits(lsk::shape{rows, cols});
    const auto fwd = lsk::cross_entropy_forward<B, T>(be, logits.view(), targets.view(), mask.view(), lse.view());
    measure(
        s,
        [&] {
          lsk::cross_entropy_backward<B, T>(be, logits.view(), targets.view(), mask.view(), lse.view(), 1.0,
                                            fwd.normalizer, dlogits.view());
        },
        double(2 * rows * cols * fsize + rows * (4 + 1 + fsize)));
  });
  add("add", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto a = random_tensor({rows, cols}, 17), b = random_tensor({rows, cols}, 18);
    lsk::tensor<T> y(lsk::shape{rows, cols});
    measure(
        s, [&] { lsk::add<B, T>(be, a.view(), b.view(), y.view()); }, double(3 * rows * cols * fsize));
  });
  add("mul", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto a = random_tensor({rows, cols}, 17), b = random_tensor({rows, cols}, 18);
    lsk::tensor<T> y(lsk::shape{rows, cols});
    measure(
        s, [&] { lsk::mul<B, T>(be, a.view(), b.view(), y.view()); }, double(3 * rows * cols * fsize));
  });
  add("scale", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows, cols}, 17);
    lsk::tensor<T> y(lsk::shape{rows, cols});
    measure(
        s, [&] { lsk::scale<B, T>(be, x.view(), T(0.5), y.view()); }, double(2 * rows * cols * fsize));
  });
  add("axpy", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows, cols}, 17);
    auto y = random_tensor({rows, cols}, 18);
    // alpha = 0 keeps y bounded however many iterations run; the work is the same.
    measure(
        s, [&] { lsk::axpy<B, T>(be, T(0), x.view(), y.view()); }, double(3 * rows * cols * fsize));
  });
  add("fill", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    lsk::tensor<T> y(lsk::shape{rows, cols});
    measure(
        s, [&] { lsk::fill<B, T>(be, y.view(), T(0.25)); }, double(rows * cols * fsize));
  });
  add("sum", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows, cols}, 19);
    measure(
        s, [&] { benchmark::DoNotOptimize(lsk::sum(be, x.view())); }, double(rows * cols * fsize));
  });
  add("sum_squares", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows, cols}, 19);
    measure(
        s, [&] { benchmark::DoNotOptimize(lsk::sum_squares(be, x.view())); }, double(rows * cols * fsize));
  });
  add("max_abs", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows, cols}, 19);
    measure(
        s, [&] { benchmark::DoNotOptimize(lsk::max_abs(be, x.view())); }, double(rows * cols * fsize));
  });
  add("sum_rows", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto x = random_tensor({rows, cols}, 20);
    lsk::tensor<T> y(lsk::shape{cols});
    measure(
        s, [&] { lsk::sum_rows<B, T>(be, x.view(), y.view()); }, double((rows * cols + cols) * fsize));
  });
  add("broadcast_rows", [](benchmark::State& s, B& be, index_t rows, index_t cols) {
    const auto row = random_tensor({cols}, 21);
    lsk::tensor<T> y(lsk::shape{rows, cols});
    measure(
        s, [&] { lsk::broadcast_rows<B, T>(be, row.view(), y.view()); }, double((rows * cols + cols) * fsize));
  });
  return ops;
}

template <class B>
void register_backend(const std::vector<std::pair<index_t, index_t>>& sizes) {
  for (auto& [op, fn] : all_ops<B>()) {
    for (auto [rows, cols] : sizes) {
      const std::string name =
          op + "/" + std::string(B::name) + "/" + std::to_string(rows) + "x" + std::to_string(cols);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [fn = fn, rows = rows, cols = cols](benchmark::State& state) {
                                     B be;
                                     fn(state, be, rows, cols);
                                   })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("lsk_threads", std::to_string(lsk::backends::cpu::threads()));
  benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
  register_backend<lsk::backends::cpu>({{4096, 512}, {4096, 4096}});
  register_backend<lsk::backends::reference>({{4096, 512}});
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
