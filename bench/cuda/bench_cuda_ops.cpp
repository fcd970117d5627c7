// bench/cuda/bench_cuda_ops.cpp: the cuda backend's non-GEMM ops in GB/s (f32).
//
// Llama-ish sizes: activations (8192, 768) (tokens x model dim; RoPE as 12
// heads of 64), embedding table and cross-entropy vocabulary 32000, attention
// scores (12, 2048, 2048) for the softmax ops. GB/s counts the bytes an op
// must move at least (each input read once, each output written once; an
// accumulated output read and written) over the median time per call. Timing:
// CUDA events around 10 back-to-back calls on the backend's stream, 2 warm-up
// rounds, median of `reps` rounds (default 9). Ops that return a host double
// (sum, sum_squares, max_abs, cross_entropy_forward) wait for the device on
// every call, so their time includes that round trip.
//   bench_cuda_ops [reps]
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <vector>

#include "lsk/backends/cuda/backend.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/core/rng.hpp"
#include "lsk/ops.hpp"

namespace {

using lsk::const_view;
using lsk::index_t;
using lsk::shape;
using lsk::tensor_view;
using lsk::cuda::device_buffer;
using backend = lsk::cuda::backend;

device_buffer<float> random_buffer(lsk::rng& g, index_t n, float lo, float hi) {
  std::vector<float> host(static_cast<std::size_t>(n));
  for (float& v : host) v = g.uniform(lo, hi);
  return device_buffer<float>::from_host(host);
}

const_view<float> cv(const device_buffer<float>& b, shape s) { return {b.data(), s}; }
tensor_view<float> mv(device_buffer<float>& b, shape s) { return {b.data(), s}; }

// Median milliseconds per call of fn on be's stream.
double time_ms(backend& be, int reps, const std::function<void()>& fn) {
  constexpr int inner = 10;
  cudaEvent_t start = nullptr, stop = nullptr;
  LSK_CUDA_CHECK(cudaEventCreate(&start));
  LSK_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> ms;
  for (int r = 0; r < reps + 2; ++r) {
    LSK_CUDA_CHECK(cudaEventRecord(start, be.stream()));
    for (int i = 0; i < inner; ++i) fn();
    LSK_CUDA_CHECK(cudaEventRecord(stop, be.stream()));
    LSK_CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0.0f;
    LSK_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    if (r >= 2) ms.push_back(static_cast<double>(t) / inner);
  }
  LSK_CUDA_CHECK(cudaEventDestroy(start));
  LSK_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void row(const char* op, const char* dims, double bytes, double ms) {
  std::printf("%-24s %-20s %10.4f %10.1f\n", op, dims, ms, bytes / (ms * 1e-3) / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto probe = lsk::cuda::probe_devices();
    if (!probe.available()) {
      std::printf("skipped: %s\n", probe.describe().c_str());
      return 0;
    }
    const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 9;
    backend be;
    lsk::rng g(3);
    constexpr index_t rows = 8192, d = 768, vocab = 32000, heads = 12, head_dim = 64, half = 32;
    constexpr index_t seq = 2048, score_rows = heads * seq;
    const shape act{rows, d};
    const double n = double(rows) * double(d), f = sizeof(float);

    auto x = random_buffer(g, rows * d, -2.0f, 2.0f);
    auto x2 = random_buffer(g, rows * d, -2.0f, 2.0f);
    auto x3 = random_buffer(g, rows * d, -2.0f, 2.0f);
    auto y = random_buffer(g, rows * d, -2.0f, 2.0f);
    auto y2 = random_buffer(g, rows * d, -2.0f, 2.0f);
    auto w = random_buffer(g, d, 0.5f, 1.5f);
    auto dw = random_buffer(g, d, -1.0f, 1.0f);
    auto rstd = random_buffer(g, rows, 0.5f, 1.5f);
    auto row_buf = random_buffer(g, d, -1.0f, 1.0f);

    std::printf("lsk::cuda::backend ops, f32, median of %d, %s\n", reps,
                lsk::cuda::device_name(lsk::cuda::current_device()).c_str());
    std::printf("%-24s %-20s %10s %10s\n", "op", "shape", "ms", "GB/s");
    const char* act_dims = "8192x768";
    row("add", act_dims, 3 * n * f,
        time_ms(be, reps, [&] { lsk::add<backend, float>(be, cv(x, act), cv(x2, act), mv(y, act)); }));
    row("mul", act_dims, 3 * n * f,
        time_ms(be, reps, [&] { lsk::mul<backend, float>(be, cv(x, act), cv(x2, act), mv(y, act)); }));
    row("scale", act_dims, 2 * n * f,
        time_ms(be, reps, [&] { lsk::scale<backend, float>(be, cv(x, act), 0.5f, mv(y, act)); }));
    row("axpy", act_dims, 3 * n * f,
        time_ms(be, reps, [&] { lsk::axpy<backend, float>(be, 1e-3f, cv(x, act), mv(y, act)); }));
    row("fill", act_dims, n * f, time_ms(be, reps, [&] { lsk::fill<backend, float>(be, mv(y, act), 1.0f); }));
    row("silu_forward", act_dims, 2 * n * f,
        time_ms(be, reps, [&] { lsk::silu_forward<backend, float>(be, cv(x, act), mv(y, act)); }));
    row("silu_backward", act_dims, 3 * n * f,
        time_ms(be, reps, [&] { lsk::silu_backward<backend, float>(be, cv(x, act), cv(x2, act), mv(y, act)); }));
    row("swiglu_forward", act_dims, 3 * n * f,
        time_ms(be, reps, [&] { lsk::swiglu_forward<backend, float>(be, cv(x, act), cv(x2, act), mv(y, act)); }));
    row("swiglu_backward", act_dims, 5 * n * f, time_ms(be, reps, [&] {
          lsk::swiglu_backward<backend, float>(be, cv(x, act), cv(x2, act), cv(x3, act), mv(y, act), mv(y2, act));
        }));
    row("rmsnorm_forward", act_dims, 2 * n * f, time_ms(be, reps, [&] {
          lsk::rmsnorm_forward<backend, float>(be, cv(x, act), cv(w, {d}), 1e-5f, mv(y, act), mv(rstd, {rows}));
        }));
    row("rmsnorm_backward", act_dims, 3 * n * f, time_ms(be, reps, [&] {
          lsk::rmsnorm_backward<backend, float>(be, cv(x2, act), cv(x, act), cv(w, {d}), cv(rstd, {rows}), mv(y, act),
                                                mv(dw, {d}));
        }));
    row("sum", act_dims, n * f, time_ms(be, reps, [&] { static_cast<void>(lsk::sum(be, cv(x, act))); }));
    row("sum_squares", act_dims, n * f,
        time_ms(be, reps, [&] { static_cast<void>(lsk::sum_squares(be, cv(x, act))); }));
    row("max_abs", act_dims, n * f, time_ms(be, reps, [&] { static_cast<void>(lsk::max_abs(be, cv(x, act))); }));
    row("sum_rows", act_dims, n * f,
        time_ms(be, reps, [&] { lsk::sum_rows<backend, float>(be, cv(x, act), mv(row_buf, {d})); }));
    row("broadcast_rows", act_dims, n * f,
        time_ms(be, reps, [&] { lsk::broadcast_rows<backend, float>(be, cv(row_buf, {d}), mv(y, act)); }));

    // RoPE on (tokens, heads, head_dim) with a table of 8192 positions.
    {
      const shape qs{rows, heads, head_dim}, ts{rows, half};
      auto cosb = random_buffer(g, rows * half, -1.0f, 1.0f);
      auto sinb = random_buffer(g, rows * half, -1.0f, 1.0f);
      std::vector<std::int32_t> pos(static_cast<std::size_t>(rows));
      for (std::size_t t = 0; t < pos.size(); ++t) pos[t] = static_cast<std::int32_t>(t);
      const auto dpos = device_buffer<std::int32_t>::from_host(pos);
      const const_view<std::int32_t> pv(dpos.data(), shape{rows});
      for (auto layout : {lsk::rope_layout::rotate_half, lsk::rope_layout::interleaved}) {
        const bool ih = layout == lsk::rope_layout::rotate_half;
        row(ih ? "rope_forward (half)" : "rope_forward (inter)", "8192x12x64", 2 * n * f, time_ms(be, reps, [&] {
              lsk::rope_forward<backend, float>(be, cv(x, qs), pv, cv(cosb, ts), cv(sinb, ts), layout, mv(y, qs));
            }));
        row(ih ? "rope_backward (half)" : "rope_backward (inter)", "8192x12x64", 2 * n * f, time_ms(be, reps, [&] {
              lsk::rope_backward<backend, float>(be, cv(x, qs), pv, cv(cosb, ts), cv(sinb, ts), layout, mv(y, qs));
            }));
      }
    }

    // Embedding: table (32000, 768), 8192 tokens.
    {
      auto table = random_buffer(g, vocab * d, -1.0f, 1.0f);
      std::vector<std::int32_t> ids(static_cast<std::size_t>(rows));
      for (auto& id : ids) id = static_cast<std::int32_t>(g.below(static_cast<std::uint32_t>(vocab)));
      const auto dids = device_buffer<std::int32_t>::from_host(ids);
      const const_view<std::int32_t> iv(dids.data(), shape{rows});
      row("embedding_forward", "8192 of 32000x768", 2 * n * f, time_ms(be, reps, [&] {
            lsk::embedding_forward<backend, float>(be, iv, cv(table, {vocab, d}), mv(y, act));
          }));
      row("embedding_backward", "8192 of 32000x768", 3 * n * f, time_ms(be, reps, [&] {
            lsk::embedding_backward<backend, float>(be, iv, cv(x, act), mv(table, {vocab, d}));
          }));
    }

    // Softmax over attention scores (12, 2048, 2048).
    {
      const shape ss{heads, seq, seq};
      const double sn = double(score_rows) * double(seq);
      auto s = random_buffer(g, score_rows * seq, -4.0f, 4.0f);
      auto sy = random_buffer(g, score_rows * seq, 0.0f, 1.0f);
      auto sd = random_buffer(g, score_rows * seq, -1.0f, 1.0f);
      row("softmax_forward", "12x2048x2048", 2 * sn * f,
          time_ms(be, reps, [&] { lsk::softmax_forward<backend, float>(be, cv(s, ss), 0.125f, mv(sy, ss)); }));
      row("causal_softmax_forward", "12x2048x2048", 2 * sn * f,
          time_ms(be, reps, [&] { lsk::causal_softmax_forward<backend, float>(be, cv(s, ss), 0.125f, mv(sy, ss)); }));
      row("softmax_backward", "12x2048x2048", 3 * sn * f, time_ms(be, reps, [&] {
            lsk::softmax_backward<backend, float>(be, cv(sy, ss), cv(sd, ss), 0.125f, mv(s, ss));
          }));
    }

    // Cross-entropy: logits (8192, 32000), all rows valid.
    {
      const shape ls{rows, vocab};
      const double ln = double(rows) * double(vocab);
      auto logits = random_buffer(g, rows * vocab, -4.0f, 4.0f);
      device_buffer<float> dlogits(static_cast<std::size_t>(rows * vocab));
      std::vector<std::int32_t> t(static_cast<std::size_t>(rows));
      for (auto& v : t) v = static_cast<std::int32_t>(g.below(static_cast<std::uint32_t>(vocab)));
      const auto dt = device_buffer<std::int32_t>::from_host(t);
      const auto dm = device_buffer<std::uint8_t>::from_host(std::vector<std::uint8_t>(t.size(), 1));
      const const_view<std::int32_t> tv(dt.data(), shape{rows});
      const const_view<std::uint8_t> mk(dm.data(), shape{rows});
      auto lse = random_buffer(g, rows, 0.0f, 1.0f);
      row("cross_entropy_forward", "8192x32000", ln * f, time_ms(be, reps, [&] {
            static_cast<void>(lsk::cross_entropy_forward<backend, float>(be, cv(logits, ls), tv, mk, mv(lse, {rows})));
          }));
      row("cross_entropy_backward", "8192x32000", 2 * ln * f, time_ms(be, reps, [&] {
            lsk::cross_entropy_backward<backend, float>(be, cv(logits, ls), tv, mk, cv(lse, {rows}), 1.0, 8192.0,
                                                        mv(dlogits, ls));
          }));
    }
    be.synchronize();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_ops: %s\n", e.what());
    return 1;
  }
}
