// The flash-attention kernels (lsk/backends/cuda/flash_attention.hpp) against
// an f64 host oracle computed from the same bf16-rounded inputs: out, lse,
// dq, dk, dv. Tolerance (the flash-attention rule): the kernel's largest
// error against the oracle must stay within 3x the error of a naive
// same-precision attention (f32 on the host, P and dS rounded to bf16 before
// their products, outputs rounded to bf16) plus a tiny absolute floor.
// Shapes cover lengths that are not multiples of the 64-row tiles, GQA
// groups of 1, 2 and 4, causal and non-causal, varlen batches (with a
// one-token sequence and unequal query/key lengths), document masks, and
// head dims 64 and 128, for each kernel configuration (flash_variant v1, v2
// and v3). The deterministic backward must give bitwise equal dq, dk, dv on two
// runs. Without a CUDA device (or one older than sm_80) each test prints
// "skipped: no CUDA device ...".
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>

#include "lsk/backends/cuda/device.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/backends/cuda/error.hpp"
#include "lsk/backends/cuda/flash_attention.hpp"
#include "lsk/core/bf16.hpp"
#include "lsk/core/rng.hpp"
#include "sm80_device.hpp"

namespace {

using lsk::bf16;

struct flash_case {
  std::string name;
  std::vector<int> q_lens;
  std::vector<int> k_lens;  // empty: q_lens
  int heads = 1, kv_heads = 1, d = 64;
  bool causal = true;
  bool documents = false;
};

float bf(float x) { return static_cast<float>(bf16(x)); }

// The problem on the host: bf16 inputs, offsets, optional document ids.
struct problem {
  flash_case c;
  int batch = 0, total_q = 0, total_k = 0, max_q = 0, max_k = 0;
  std::vector<std::int32_t> cu_q, cu_k, docs;
  std::vector<bf16> q, k, v, dout;
  float scale = 0;

  int q_len(int b) const { return cu_q[b + 1] - cu_q[b]; }
  int k_len(int b) const { return cu_k[b + 1] - cu_k[b]; }
  // May query i of sequence b see key j (both local)?
  bool visible(int b, int i, int j) const {
    const int off = k_len(b) - q_len(b);
    if (c.causal && j > i + off) return false;
    if (!docs.empty()) {
      const int own = i + off;
      if (own < 0 || own >= k_len(b)) return false;
      if (docs[cu_k[b] + own] != docs[cu_k[b] + j]) return false;
    }
    return true;
  }
};

problem make_problem(const flash_case& c, std::uint64_t seed) {
  problem p;
  p.c = c;
  p.batch = static_cast<int>(c.q_lens.size());
  const std::vector<int>& kl = c.k_lens.empty() ? c.q_lens : c.k_lens;
  p.cu_q.push_back(0);
  p.cu_k.push_back(0);
  for (int b = 0; b < p.batch; ++b) {
    p.cu_q.push_back(p.cu_q.back() + c.q_lens[b]);
    p.cu_k.push_back(p.cu_k.back() + kl[b]);
    p.max_q = std::max(p.max_q, c.q_lens[b]);
    p.max_k = std::max(p.max_k, kl[b]);
  }
  p.total_q = p.cu_q.back();
  p.total_k = p.cu_k.back();
  lsk::rng g(seed);
  auto fill = [&](std::vector<bf16>& x, std::size_t n) {
    x.resize(n);
    for (auto& e : x) e = bf16(static_cast<float>(g.normal()));
  };
  fill(p.q, static_cast<std::size_t>(p.total_q) * c.heads * c.d);
  fill(p.k, static_cast<std::size_t>(p.total_k) * c.kv_heads * c.d);
  fill(p.v, static_cast<std::size_t>(p.total_k) * c.kv_heads * c.d);
  fill(p.dout, static_cast<std::size_t>(p.total_q) * c.heads * c.d);
  if (c.documents) {
    // Runs of random lengths; labels repeat non-contiguously (7, 3, 7, ...), as lsk's mask allows.
    const std::int32_t labels[] = {7, 3, 7, 11, 3};
    for (int b = 0; b < p.batch; ++b) {
      int pos = 0, run = 0;
      while (pos < kl[b]) {
        const int len = 1 + static_cast<int>(g.below(60));
        for (int i = 0; i < len && pos < kl[b]; ++i, ++pos) p.docs.push_back(labels[run % 5] + 100 * b);
        ++run;
      }
    }
  }
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.d));
  return p;
}

// Results in f32 (from the kernel, the naive f32 attention) or f64 (the oracle).
template <class T>
struct results {
  std::vector<T> out, lse, dq, dk, dv;
};

// The f64 oracle (exact arithmetic on the bf16 inputs) when T = double; the
// naive same-precision attention when T = float: f32 sums, normalised P
// rounded to bf16 before P V, D from the bf16 output, dS rounded to bf16
// before dQ = dS K and dK = dS^T Q, every output rounded to bf16.
template <class T>
results<T> host_attention(const problem& p) {
  constexpr bool naive = std::is_same_v<T, float>;
  auto rnd = [](T x) { return naive ? static_cast<T>(bf(static_cast<float>(x))) : x; };
  const int H = p.c.heads, KH = p.c.kv_heads, D = p.c.d, group = H / KH;
  results<T> r;
  r.out.assign(static_cast<std::size_t>(p.total_q) * H * D, T(0));
  r.lse.assign(static_cast<std::size_t>(p.total_q) * H, T(0));
  r.dq.assign(r.out.size(), T(0));
  r.dk.assign(static_cast<std::size_t>(p.total_k) * KH * D, T(0));
  r.dv.assign(r.dk.size(), T(0));
  auto at = [](const std::vector<bf16>& x, std::size_t i) { return static_cast<T>(static_cast<float>(x[i])); };
  const T scale = static_cast<T>(p.scale);
  for (int b = 0; b < p.batch; ++b) {
    const int ql = p.q_len(b), kl = p.k_len(b);
    for (int h = 0; h < H; ++h) {
      const int kh = h / group;
      for (int i = 0; i < ql; ++i) {
        const std::size_t qrow = (static_cast<std::size_t>(p.cu_q[b] + i) * H + h) * D;
        std::vector<T> s(kl, T(0)), pr(kl, T(0)), dp(kl, T(0));
        T m = -std::numeric_limits<T>::infinity();
        for (int j = 0; j < kl; ++j) {
          if (!p.visible(b, i, j)) continue;
          const std::size_t krow = (static_cast<std::size_t>(p.cu_k[b] + j) * KH + kh) * D;
          T dot = 0;
          for (int d = 0; d < D; ++d) dot += at(p.q, qrow + d) * at(p.k, krow + d);
          s[j] = dot * scale;
          m = std::max(m, s[j]);
        }
        const std::size_t lidx = static_cast<std::size_t>(p.cu_q[b] + i) * H + h;
        if (m == -std::numeric_limits<T>::infinity()) {
          r.lse[lidx] = m;  // no visible key: out = 0, gradients 0
          continue;
        }
        T l = 0;
        for (int j = 0; j < kl; ++j)
          if (p.visible(b, i, j)) l += std::exp(s[j] - m);
        const T lse = m + std::log(l);
        r.lse[lidx] = lse;
        std::vector<T> o(D, T(0));
        for (int j = 0; j < kl; ++j) {
          if (!p.visible(b, i, j)) continue;
          pr[j] = std::exp(s[j] - lse);
          const std::size_t vrow = (static_cast<std::size_t>(p.cu_k[b] + j) * KH + kh) * D;
          for (int d = 0; d < D; ++d) o[d] += rnd(pr[j]) * at(p.v, vrow + d);
        }
        for (int d = 0; d < D; ++d) r.out[qrow + d] = rnd(o[d]);
        // Backward of this row.
        T delta = 0;
        for (int d = 0; d < D; ++d) delta += at(p.dout, qrow + d) * r.out[qrow + d];
        for (int j = 0; j < kl; ++j) {
          if (!p.visible(b, i, j)) continue;
          const std::size_t krow = (static_cast<std::size_t>(p.cu_k[b] + j) * KH + kh) * D;
          T dot = 0;
          for (int d = 0; d < D; ++d) dot += at(p.dout, qrow + d) * at(p.v, krow + d);
          dp[j] = dot;
          const T ds = rnd(pr[j] * (dp[j] - delta));
          const T pj = rnd(pr[j]);
          for (int d = 0; d < D; ++d) {
            r.dq[qrow + d] += ds * at(p.k, krow + d);
            r.dk[krow + d] += ds * at(p.q, qrow + d);
            r.dv[krow + d] += pj * at(p.dout, qrow + d);
          }
        }
      }
    }
  }
  for (auto& x : r.dq) x = rnd(x * scale);
  for (auto& x : r.dk) x = rnd(x * scale);
  for (auto& x : r.dv) x = rnd(x);
  return r;
}

template <class A>
double max_error(const std::vector<A>& got, const std::vector<double>& ref) {
  double e = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double g = static_cast<double>(got[i]);
    if (std::isinf(ref[i]) && g == ref[i]) continue;  // both -inf: a row that sees no key
    const double d = std::abs(g - ref[i]);
    e = std::isnan(d) ? std::numeric_limits<double>::infinity() : std::max(e, d);
  }
  return e;
}

std::vector<float> to_float(const std::vector<bf16>& x) {
  std::vector<float> r(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) r[i] = static_cast<float>(x[i]);
  return r;
}

// Device copies of a problem and its outputs.
struct device_problem {
  lsk::cuda::device_buffer<bf16> q, k, v, o, dout, dq, dk, dv;
  lsk::cuda::device_buffer<float> lse;
  lsk::cuda::device_buffer<std::int32_t> cu_q, cu_k, docs;
  lsk::cuda::device_buffer<unsigned char> workspace;
  lsk::cuda::flash_attention_params fwd{};

  explicit device_problem(const problem& p)
      : q(lsk::cuda::device_buffer<bf16>::from_host(p.q)),
        k(lsk::cuda::device_buffer<bf16>::from_host(p.k)),
        v(lsk::cuda::device_buffer<bf16>::from_host(p.v)),
        o(p.q.size()),
        dout(lsk::cuda::device_buffer<bf16>::from_host(p.dout)),
        dq(p.q.size()),
        dk(p.k.size()),
        dv(p.v.size()),
        lse(static_cast<std::size_t>(p.total_q) * p.c.heads),
        cu_q(lsk::cuda::device_buffer<std::int32_t>::from_host(p.cu_q)),
        cu_k(lsk::cuda::device_buffer<std::int32_t>::from_host(p.cu_k)) {
    if (!p.docs.empty()) docs = lsk::cuda::device_buffer<std::int32_t>::from_host(p.docs);
    fwd.q = q.data();
    fwd.k = k.data();
    fwd.v = v.data();
    fwd.o = o.data();
    fwd.lse = lse.data();
    fwd.cu_seqlens_q = cu_q.data();
    fwd.cu_seqlens_k = cu_k.data();
    fwd.documents = p.docs.empty() ? nullptr : docs.data();
    fwd.batch = p.batch;
    fwd.max_seqlen_q = p.max_q;
    fwd.max_seqlen_k = p.max_k;
    fwd.heads = p.c.heads;
    fwd.kv_heads = p.c.kv_heads;
    fwd.head_dim = p.c.d;
    fwd.scale = p.scale;
    fwd.causal = p.c.causal;
    workspace = lsk::cuda::device_buffer<unsigned char>(
        lsk::cuda::flash_attention_backward_workspace_bytes(p.total_q, p.c.heads, p.c.d, false));
  }

  void backward(const problem& p, bool deterministic) {
    lsk::cuda::flash_attention_backward_params b{};
    b.fwd = fwd;
    b.dout = dout.data();
    b.dq = dq.data();
    b.dk = dk.data();
    b.dv = dv.data();
    b.total_q = p.total_q;
    b.workspace = workspace.data();
    b.deterministic = deterministic;
    lsk::cuda::flash_attention_backward(b);
    lsk::cuda::synchronize();
  }
};

void check_error(const char* what, const std::string& name, double kernel, double naive, double floor) {
  std::printf("  %-4s kernel %.3e  naive-f32 %.3e  (limit %.3e)\n", what, kernel, naive, 3 * naive + floor);
  INFO(name << ": " << what << " error " << kernel << ", naive same-precision error " << naive);
  CHECK(kernel <= 3 * naive + floor);
}

// Fills a device buffer with all-ones bytes (bf16 NaN), so that an element a kernel fails to write shows.
template <class T>
void poison(lsk::cuda::device_buffer<T>& b) {
  LSK_CUDA_CHECK(cudaMemset(b.data(), 0xFF, b.size() * sizeof(T)));
}

void run_variant(const flash_case& c, const problem& p, const results<double>& ref, const results<float>& naive,
                 device_problem& dev, lsk::cuda::flash_variant variant) {
  const std::string name = c.name + " [v" + std::to_string(static_cast<int>(variant)) + "]";
  dev.fwd.variant = variant;
  poison(dev.o);
  lsk::cuda::flash_attention_forward(dev.fwd);
  lsk::cuda::synchronize();
  const std::vector<float> out = to_float(dev.o.to_host());
  const std::vector<float> lse = dev.lse.to_host();

  std::printf("%s\n", name.c_str());
  check_error("out", name, max_error(out, ref.out), max_error(naive.out, ref.out), 1e-5);
  check_error("lse", name, max_error(lse, ref.lse), max_error(naive.lse, ref.lse), 1e-4);

  for (const bool deterministic : {false, true}) {
    poison(dev.dq);
    poison(dev.dk);
    poison(dev.dv);
    dev.backward(p, deterministic);
    const auto dq = dev.dq.to_host(), dk = dev.dk.to_host(), dv = dev.dv.to_host();
    std::printf(" backward (%s)\n", deterministic ? "deterministic" : "atomic dq");
    check_error("dq", name, max_error(to_float(dq), ref.dq), max_error(naive.dq, ref.dq), 1e-5);
    check_error("dk", name, max_error(to_float(dk), ref.dk), max_error(naive.dk, ref.dk), 1e-5);
    check_error("dv", name, max_error(to_float(dv), ref.dv), max_error(naive.dv, ref.dv), 1e-5);
    if (deterministic) {
      dev.backward(p, true);
      const auto dq2 = dev.dq.to_host(), dk2 = dev.dk.to_host(), dv2 = dev.dv.to_host();
      auto same_bits = [](const std::vector<bf16>& a, const std::vector<bf16>& b) {
        return std::equal(a.begin(), a.end(), b.begin(), [](bf16 x, bf16 y) { return x.bits == y.bits; });
      };
      INFO(name << ": deterministic backward, second run");
      CHECK(same_bits(dq, dq2));
      CHECK(same_bits(dk, dk2));
      CHECK(same_bits(dv, dv2));
    }
  }
}

// Every kernel configuration (flash_variant v1, v2 and v3; automatic is v3) on the same problem.
void run_case(const flash_case& c, std::uint64_t seed) {
  const problem p = make_problem(c, seed);
  const results<double> ref = host_attention<double>(p);
  const results<float> naive = host_attention<float>(p);
  device_problem dev(p);
  for (const auto variant :
       {lsk::cuda::flash_variant::v1, lsk::cuda::flash_variant::v2, lsk::cuda::flash_variant::v3}) {
    run_variant(c, p, ref, naive, dev, variant);
  }
}

}  // namespace

TEST_CASE("Flash attention, head dim 64: causal and non-causal, GQA 1/2/4, varlen tails", "[cuda][flash]") {
  if (!sm80_device_available()) return;
  run_case({"d64 MHA causal, one sequence of 100", {100}, {}, 4, 4, 64, true, false}, 1);
  run_case({"d64 GQA4 causal varlen {200, 1, 77}", {200, 1, 77}, {}, 8, 2, 64, true, false}, 2);
  run_case({"d64 GQA2 non-causal varlen {129, 64}", {129, 64}, {}, 4, 2, 64, false, false}, 3);
  run_case({"d64 causal, exact tile multiples {128, 192}", {128, 192}, {}, 2, 2, 64, true, false}, 4);
}

TEST_CASE("Flash attention, head dim 128: causal and non-causal, GQA 1/2/4, varlen tails", "[cuda][flash]") {
  if (!sm80_device_available()) return;
  run_case({"d128 GQA2 non-causal varlen {37, 130, 64}", {37, 130, 64}, {}, 4, 2, 128, false, false}, 5);
  run_case({"d128 MHA causal varlen {65, 300}", {65, 300}, {}, 2, 2, 128, true, false}, 6);
  run_case({"d128 GQA4 causal {150, 90}", {150, 90}, {}, 4, 1, 128, true, false}, 7);
}

TEST_CASE("Flash attention with document masks", "[cuda][flash]") {
  if (!sm80_device_available()) return;
  run_case({"d128 GQA4 causal documents {150, 90}", {150, 90}, {}, 4, 1, 128, true, true}, 8);
  run_case({"d64 GQA2 non-causal documents {129, 64}", {129, 64}, {}, 4, 2, 64, false, true}, 9);
}

TEST_CASE("Flash attention with more keys than queries (bottom-right causal) and fewer", "[cuda][flash]") {
  if (!sm80_device_available()) return;
  // Sequence 0: 50 queries on 80 keys (KV-cache style); sequence 1: 70 queries on 40
  // keys, so its first 30 queries see no key at all when causal (out 0, lse -inf).
  run_case({"d128 causal q {50, 70} k {80, 40}", {50, 70}, {80, 40}, 2, 1, 128, true, false}, 10);
  run_case({"d64 non-causal q {50, 70} k {80, 40}", {50, 70}, {80, 40}, 4, 2, 64, false, false}, 11);
  run_case({"d64 causal documents q {50, 70} k {130, 70}", {50, 70}, {130, 70}, 2, 2, 64, true, true}, 12);
}

TEST_CASE("Flash attention rejects bad arguments", "[cuda][flash]") {
  lsk::cuda::flash_attention_params p{};
  CHECK_THROWS_AS(lsk::cuda::flash_attention_forward(p), lsk::error);
  std::vector<bf16> dummy(1);
  p.q = p.k = p.v = dummy.data();
  std::int32_t cu[2] = {0, 1};
  p.cu_seqlens_q = cu;
  p.o = dummy.data();
  float lse = 0;
  p.lse = &lse;
  p.heads = 4;
  p.kv_heads = 3;
  p.head_dim = 64;
  p.scale = 0.125f;
  CHECK_THROWS_AS(lsk::cuda::flash_attention_forward(p), lsk::shape_error);
  p.kv_heads = 2;
  p.head_dim = 96;
  CHECK_THROWS_AS(lsk::cuda::flash_attention_forward(p), lsk::shape_error);
}
