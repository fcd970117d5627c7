// bench/cuda/bench_naive_attention.cpp: the naive attention (lsk/attention/naive.hpp)
// on the cuda backend, forward + backward, with its two product groupings side
// by side in each matmul precision. This is the attention a Llama model runs on
// the GPU where the flash kernels do not apply (head dims other than 64 and
// 128, f64 models), for instance the default recipe's model (head dim 32).
//
//   bench_naive_attention [--batch 16] [--len 128] [--heads 4] [--kv-heads 2]
//                         [--head-dim 32] [--reps 20]
//
// Defaults: one pretraining micro-batch of the default recipe (16 x 128 tokens,
// 4 heads on 2 kv heads). Per row: the grouping (per_sequence: one product per
// sequence and kv head; per_head: one per query head over all sequences), the
// products' precision, the backend's matrix-product calls per forward +
// backward, and the median milliseconds (CUDA events on the backend's stream,
// 3 warm-up rounds) of one forward + backward.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "lsk/attention/naive.hpp"
#include "lsk/backends/cuda/backend.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/core/rng.hpp"

namespace {

using lsk::index_t;
using lsk::shape;
using lsk::cuda::device_buffer;
namespace att = lsk::attention;

// The cuda backend, counting its matrix-product calls.
class counting_backend : public lsk::cuda::backend {
 public:
  using lsk::cuda::backend::backend;
  template <lsk::real_scalar T>
  void gemm(const lsk::gemm_problem<T>& g) {
    ++products;
    lsk::cuda::backend::gemm(g);
  }
  std::int64_t products = 0;
};

struct options {
  index_t batch = 16, len = 128, heads = 4, kv_heads = 2, head_dim = 32;
  int reps = 20;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_naive_attention: %s needs a value\n", argv[i]);
      std::exit(2);
    }
    const long v = std::strtol(argv[++i], nullptr, 10);
    if (a == "--batch") {
      o.batch = v;
    } else if (a == "--len") {
      o.len = v;
    } else if (a == "--heads") {
      o.heads = v;
    } else if (a == "--kv-heads") {
      o.kv_heads = v;
    } else if (a == "--head-dim") {
      o.head_dim = v;
    } else if (a == "--reps") {
      o.reps = static_cast<int>(v);
    } else {
      std::fprintf(stderr, "bench_naive_attention: unknown option %s\n", argv[i - 1]);
      std::exit(2);
    }
  }
  if (o.batch <= 0 || o.len <= 0 || o.heads <= 0 || o.kv_heads <= 0 || o.heads % o.kv_heads != 0 || o.head_dim <= 0 ||
      o.reps <= 0) {
    std::fprintf(stderr, "bench_naive_attention: positive sizes, kv heads dividing heads\n");
    std::exit(2);
  }
  return o;
}

device_buffer<float> random_buffer(lsk::rng& g, index_t n) {
  std::vector<float> host(static_cast<std::size_t>(n));
  for (float& v : host) v = g.uniform(-1.0f, 1.0f);
  return device_buffer<float>::from_host(host);
}

const char* name_of(lsk::cuda::matmul_precision p) {
  switch (p) {
    case lsk::cuda::matmul_precision::f32:
      return "f32";
    case lsk::cuda::matmul_precision::tf32:
      return "tf32";
    default:
      return "bf16";
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const options o = parse(argc, argv);
    const auto probe = lsk::cuda::probe_devices();
    if (!probe.available()) {
      std::printf("skipped: %s\n", probe.describe().c_str());
      return 0;
    }
    const att::attention_shape s{o.batch, o.len, o.len, o.heads, o.kv_heads, o.head_dim};
    const index_t q_elems = o.batch * o.len * o.heads * o.head_dim;
    const index_t kv_elems = o.batch * o.len * o.kv_heads * o.head_dim;
    const index_t probs = att::naive_attention{}.saved_size(s);
    lsk::rng g(5);
    auto q = random_buffer(g, q_elems), k = random_buffer(g, kv_elems), v = random_buffer(g, kv_elems);
    auto dout = random_buffer(g, q_elems);
    device_buffer<float> out(static_cast<std::size_t>(q_elems)), dq(static_cast<std::size_t>(q_elems));
    device_buffer<float> dk(static_cast<std::size_t>(kv_elems)), dv(static_cast<std::size_t>(kv_elems));
    device_buffer<float> saved(static_cast<std::size_t>(probs)), scratch(static_cast<std::size_t>(probs));
    const shape qs{o.batch * o.len, o.heads, o.head_dim}, kvs{o.batch * o.len, o.kv_heads, o.head_dim};
    const float scale = 1.0f / std::sqrt(static_cast<float>(o.head_dim));

    std::printf("naive attention on %s: batch %lld x len %lld, heads %lld, kv heads %lld, head dim %lld, causal\n",
                lsk::cuda::device_name(lsk::cuda::current_device()).c_str(), static_cast<long long>(o.batch),
                static_cast<long long>(o.len), static_cast<long long>(o.heads), static_cast<long long>(o.kv_heads),
                static_cast<long long>(o.head_dim));
    std::printf("%-13s %-9s %9s %12s\n", "grouping", "products", "calls", "fwd+bwd ms");
    for (const auto precision :
         {lsk::cuda::matmul_precision::f32, lsk::cuda::matmul_precision::tf32, lsk::cuda::matmul_precision::bf16}) {
      for (const auto grouping : {att::naive_products::per_sequence, att::naive_products::per_head}) {
        counting_backend be(lsk::cuda::backend_options{.matmul = precision});
        const att::naive_attention naive{grouping};
        const auto once = [&] {
          naive.forward<counting_backend, float>(be, s, att::causal_mask(), {q.data(), qs}, {k.data(), kvs},
                                                 {v.data(), kvs}, scale, {saved.data(), shape{probs}},
                                                 {out.data(), qs});
          naive.backward<counting_backend, float>(be, s, att::causal_mask(), {q.data(), qs}, {k.data(), kvs},
                                                  {v.data(), kvs}, {out.data(), qs}, {saved.data(), shape{probs}},
                                                  {dout.data(), qs}, scale, {scratch.data(), shape{probs}},
                                                  {dq.data(), qs}, {dk.data(), kvs}, {dv.data(), kvs});
        };
        cudaEvent_t start = nullptr, stop = nullptr;
        LSK_CUDA_CHECK(cudaEventCreate(&start));
        LSK_CUDA_CHECK(cudaEventCreate(&stop));
        for (int w = 0; w < 3; ++w) once();
        be.products = 0;
        std::vector<double> ms;
        for (int r = 0; r < o.reps; ++r) {
          LSK_CUDA_CHECK(cudaEventRecord(start, be.stream()));
          once();
          LSK_CUDA_CHECK(cudaEventRecord(stop, be.stream()));
          LSK_CUDA_CHECK(cudaEventSynchronize(stop));
          float t = 0.0f;
          LSK_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
          ms.push_back(static_cast<double>(t));
        }
        LSK_CUDA_CHECK(cudaEventDestroy(start));
        LSK_CUDA_CHECK(cudaEventDestroy(stop));
        std::sort(ms.begin(), ms.end());
        std::printf("%-13s %-9s %9lld %12.3f\n",
                    grouping == att::naive_products::per_head ? "per_head" : "per_sequence", name_of(precision),
                    static_cast<long long>(be.products / o.reps), ms[ms.size() / 2]);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_naive_attention: %s\n", e.what());
    return 1;
  }
}
