// Flash-attention throughput on the GPU (lsk/backends/cuda/flash_attention.hpp):
// forward and forward+backward TFLOP/s against sequence length at a constant
// number of tokens (batch = tokens / seq), bf16, causal by default.
//
//   bench_flash_attention [--non-causal] [--deterministic] [--heads N] [--kv-heads N]
//                         [--head-dim 64|128] [--tokens N] [--reps N] [--variant all|1|2|3]
//
// --variant picks the kernel configuration (lsk::cuda::flash_variant; 1: 64
// queries per forward block and 64 keys per dK/dV block, 2: 128 and 128 with
// Q/dO prefetch; 3, the default: 2 with a leaner atomic dQ product in the
// backward); "all" (the default here) prints one table per
// configuration.
//
// FLOPs are counted as flash-attn does: forward 4 * batch * seq^2 * heads *
// head_dim (halved when causal), backward 2.5x the forward. Each time is the
// median of --reps runs (CUDA events around the launches) after two warm-up
// runs. bench/cuda/sdpa_compare.py prints the same table for PyTorch's SDPA
// (flash backend) and can run this program first, for a side-by-side view.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lsk/backends/cuda/device.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/backends/cuda/error.hpp"
#include "lsk/backends/cuda/flash_attention.hpp"
#include "lsk/core/bf16.hpp"

namespace {

using lsk::bf16;

struct options {
  bool causal = true;
  bool deterministic = false;
  int heads = 16, kv_heads = 16, head_dim = 128, tokens = 65536, reps = 10;
  std::vector<int> variants{1, 2, 3};
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--non-causal") {
      o.causal = false;
    } else if (a == "--deterministic") {
      o.deterministic = true;
    } else if (a == "--heads") {
      o.heads = next();
    } else if (a == "--kv-heads") {
      o.kv_heads = next();
    } else if (a == "--head-dim") {
      o.head_dim = next();
    } else if (a == "--tokens") {
      o.tokens = next();
    } else if (a == "--reps") {
      o.reps = std::max(1, next());
    } else if (a == "--variant") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "--variant needs a value\n");
        std::exit(2);
      }
      const std::string v = argv[++i];
      if (v == "all") {
        o.variants = {1, 2, 3};
      } else if (v == "1" || v == "2" || v == "3") {
        o.variants = {std::atoi(v.c_str())};
      } else {
        std::fprintf(stderr, "--variant all, 1, 2 or 3\n");
        std::exit(2);
      }
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      std::exit(2);
    }
  }
  if (o.kv_heads > o.heads) o.kv_heads = o.heads;
  return o;
}

// Deterministic N(0,1)-ish bf16 values (sum of uniforms), fast on the host.
std::vector<bf16> random_bf16(std::size_t n, std::uint64_t seed) {
  std::vector<bf16> x(n);
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (auto& e : x) {
    float acc = 0;
    for (int i = 0; i < 4; ++i) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      acc += static_cast<float>(s >> 40) * (1.0f / 16777216.0f);
    }
    e = bf16((acc - 2.0f) * 1.7320508f);
  }
  return x;
}

template <class F>
double median_ms(int reps, F&& run) {
  cudaEvent_t start, stop;
  LSK_CUDA_CHECK(cudaEventCreate(&start));
  LSK_CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < 2; ++i) run();
  LSK_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    LSK_CUDA_CHECK(cudaEventRecord(start));
    run();
    LSK_CUDA_CHECK(cudaEventRecord(stop));
    LSK_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    LSK_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    t.push_back(ms);
  }
  LSK_CUDA_CHECK(cudaEventDestroy(start));
  LSK_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  const auto probe = lsk::cuda::probe_devices();
  if (!probe.available()) {
    std::printf("skipped: %s\n", probe.describe().c_str());
    return 0;
  }
  cudaDeviceProp prop{};
  LSK_CUDA_CHECK(cudaGetDeviceProperties(&prop, lsk::cuda::current_device()));

  const std::size_t q_elems = static_cast<std::size_t>(o.tokens) * o.heads * o.head_dim;
  const std::size_t kv_elems = static_cast<std::size_t>(o.tokens) * o.kv_heads * o.head_dim;
  auto q = lsk::cuda::device_buffer<bf16>::from_host(random_bf16(q_elems, 1));
  auto k = lsk::cuda::device_buffer<bf16>::from_host(random_bf16(kv_elems, 2));
  auto v = lsk::cuda::device_buffer<bf16>::from_host(random_bf16(kv_elems, 3));
  auto dout = lsk::cuda::device_buffer<bf16>::from_host(random_bf16(q_elems, 4));
  lsk::cuda::device_buffer<bf16> out(q_elems), dq(q_elems), dk(kv_elems), dv(kv_elems);
  lsk::cuda::device_buffer<float> lse(static_cast<std::size_t>(o.tokens) * o.heads);
  lsk::cuda::device_buffer<unsigned char> workspace(
      lsk::cuda::flash_attention_backward_workspace_bytes(o.tokens, o.heads, o.head_dim, o.deterministic));

  for (const int variant : o.variants) {
    std::printf("lsk flash attention (variant %d) on %s: %d tokens, heads %d, kv_heads %d, head_dim %d, %s, bf16%s\n",
                variant, prop.name, o.tokens, o.heads, o.kv_heads, o.head_dim, o.causal ? "causal" : "non-causal",
                o.deterministic ? ", deterministic backward" : "");
    std::printf("%8s %6s %10s %12s %14s %16s\n", "seq", "batch", "fwd ms", "fwd TFLOP/s", "fwd+bwd ms",
                "fwd+bwd TFLOP/s");
    for (int seq = 1024; seq <= 65536; seq *= 2) {
      if (seq > o.tokens) break;
      const int batch = o.tokens / seq;
      std::vector<std::int32_t> cu(static_cast<std::size_t>(batch) + 1);
      for (int b = 0; b <= batch; ++b) cu[static_cast<std::size_t>(b)] = b * seq;
      auto d_cu = lsk::cuda::device_buffer<std::int32_t>::from_host(cu);

      lsk::cuda::flash_attention_params f{};
      f.q = q.data();
      f.k = k.data();
      f.v = v.data();
      f.o = out.data();
      f.lse = lse.data();
      f.cu_seqlens_q = d_cu.data();
      f.batch = batch;
      f.max_seqlen_q = seq;
      f.max_seqlen_k = seq;
      f.heads = o.heads;
      f.kv_heads = o.kv_heads;
      f.head_dim = o.head_dim;
      f.scale = 1.0f / std::sqrt(static_cast<float>(o.head_dim));
      f.causal = o.causal;
      f.variant = static_cast<lsk::cuda::flash_variant>(variant);
      lsk::cuda::flash_attention_backward_params b{};
      b.fwd = f;
      b.dout = dout.data();
      b.dq = dq.data();
      b.dk = dk.data();
      b.dv = dv.data();
      b.total_q = batch * seq;
      b.workspace = workspace.data();
      b.deterministic = o.deterministic;

      const double fwd_ms = median_ms(o.reps, [&] { lsk::cuda::flash_attention_forward(f); });
      const double all_ms = median_ms(o.reps, [&] {
        lsk::cuda::flash_attention_forward(f);
        lsk::cuda::flash_attention_backward(b);
      });
      const double fwd_flops =
          4.0 * batch * static_cast<double>(seq) * seq * o.heads * o.head_dim / (o.causal ? 2.0 : 1.0);
      const double all_flops = 3.5 * fwd_flops;
      std::printf("%8d %6d %10.3f %12.1f %14.3f %16.1f\n", seq, batch, fwd_ms, fwd_flops / fwd_ms * 1e-9, all_ms,
                  all_flops / all_ms * 1e-9);
    }
  }
  return 0;
}
