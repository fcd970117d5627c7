// The device ring attention (lsk/backends/cuda/ring_attention.hpp) on one GPU
// with P ranks as threads, passing device buffers with cudaMemcpy: out, lse,
// dq, dk, dv of every rank's zigzag shard, put back in sequence order, against
// an f32 host oracle (the tiled attention on the whole sequence, from the same
// bf16 inputs). Tolerance (the flash-attention rule): the ring's largest error
// must stay within 3x the single-GPU flash kernel's error on the same problem
// plus a small floor (the ring rounds each chunk pair's partial to bf16 once
// more). Shapes: P = 2 and 4, chunks not a multiple of the 64-row tiles, GQA,
// head dims 64 and 128. Without a CUDA device of compute capability 8.0 or newer
// each case prints "skipped: no CUDA device ...".
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <exception>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "device_thread_communicator.hpp"
#include "lsk/attention/ring.hpp"
#include "lsk/attention/tiled.hpp"
#include "lsk/backends/cuda/device.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/backends/cuda/error.hpp"
#include "lsk/backends/cuda/flash_attention.hpp"
#include "lsk/backends/cuda/ring_attention.hpp"
#include "lsk/core/bf16.hpp"
#include "lsk/core/rng.hpp"
#include "sm80_device.hpp"

namespace {

using lsk::bf16;
using lsk::index_t;
namespace att = lsk::attention;

std::vector<float> to_f32(const std::vector<bf16>& x) {
  std::vector<float> out(x.size());
  std::transform(x.begin(), x.end(), out.begin(), [](bf16 b) { return static_cast<float>(b); });
  return out;
}

double max_error(const std::vector<float>& a, const std::vector<float>& oracle) {
  double e = 0;
  for (std::size_t i = 0; i < a.size(); ++i) e = std::max(e, std::abs(double(a[i]) - double(oracle[i])));
  return e;
}
double max_abs(const std::vector<float>& x) {
  double m = 0;
  for (float v : x) m = std::max(m, std::abs(double(v)));
  return m;
}

struct ring_case {
  int ranks, chunk, heads, kv_heads, head_dim;
};

}  // namespace

TEST_CASE("cuda ring attention: P ranks on one GPU match the f32 oracle as closely as the single-GPU kernel",
          "[cuda][ring]") {
  if (!sm80_device_available()) return;
  const auto c = GENERATE(ring_case{2, 48, 4, 2, 64}, ring_case{4, 40, 4, 1, 128}, ring_case{2, 96, 2, 2, 128});
  CAPTURE(c.ranks, c.chunk, c.heads, c.kv_heads, c.head_dim);
  const att::ring_shape s{index_t{2} * c.ranks * c.chunk, c.heads, c.kv_heads, c.head_dim, c.ranks};
  const index_t L = s.seq_len;
  const auto nq = static_cast<std::size_t>(L * c.heads * c.head_dim);
  const auto nk = static_cast<std::size_t>(L * c.kv_heads * c.head_dim);
  lsk::rng g(11);
  auto draw = [&](std::size_t n) {
    std::vector<bf16> x(n);
    for (auto& v : x) v = bf16(static_cast<float>(g.normal()));
    return x;
  };
  const auto q = draw(nq), k = draw(nk), v = draw(nk), dout = draw(nq);
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));

  // The f32 oracle on the whole sequence.
  const att::attention_shape whole{1, L, L, c.heads, c.kv_heads, c.head_dim};
  const auto qf = to_f32(q), kf = to_f32(k), vf = to_f32(v), df = to_f32(dout);
  std::vector<float> o_ref(nq), lse_ref(static_cast<std::size_t>(L * c.heads)), dq_ref(nq), dk_ref(nk), dv_ref(nk),
      delta(lse_ref.size());
  const lsk::shape q_shape{L, c.heads, c.head_dim}, kv_shape{L, c.kv_heads, c.head_dim}, lse_shape{L, c.heads};
  att::tiled_forward<float>(whole, att::causal_mask(), {qf.data(), q_shape}, {kf.data(), kv_shape},
                            {vf.data(), kv_shape}, scale, {lse_ref.data(), lse_shape}, {o_ref.data(), q_shape});
  att::tiled_backward<float>(whole, att::causal_mask(), {qf.data(), q_shape}, {kf.data(), kv_shape},
                             {vf.data(), kv_shape}, {o_ref.data(), q_shape}, {lse_ref.data(), lse_shape},
                             {df.data(), q_shape}, scale, {delta.data(), lse_shape}, {dq_ref.data(), q_shape},
                             {dk_ref.data(), kv_shape}, {dv_ref.data(), kv_shape});

  // The single-GPU flash kernel on the whole sequence: the error budget.
  using lsk::cuda::device_buffer;
  auto up = [](const std::vector<bf16>& x) { return device_buffer<bf16>::from_host(x); };
  auto down = [](const device_buffer<bf16>& b) {
    std::vector<bf16> h(b.size());
    b.copy_to_host(h);
    return to_f32(h);
  };
  std::vector<float> o_one, dq_one, dk_one, dv_one;
  {
    auto dq = up(q), dk_ = up(k), dv_ = up(v), dd = up(dout), o = device_buffer<bf16>(nq), gq = device_buffer<bf16>(nq),
         gk = device_buffer<bf16>(nk), gv = device_buffer<bf16>(nk);
    device_buffer<float> lse(lse_ref.size());
    const std::vector<std::int32_t> offsets{0, static_cast<std::int32_t>(L)};
    auto cu = device_buffer<std::int32_t>::from_host(offsets);
    lsk::cuda::flash_attention_params p;
    p.q = dq.data();
    p.k = dk_.data();
    p.v = dv_.data();
    p.o = o.data();
    p.lse = lse.data();
    p.cu_seqlens_q = cu.data();
    p.batch = 1;
    p.max_seqlen_q = static_cast<int>(L);
    p.heads = c.heads;
    p.kv_heads = c.kv_heads;
    p.head_dim = c.head_dim;
    p.scale = scale;
    lsk::cuda::flash_attention_forward(p);
    lsk::cuda::flash_attention_backward_params b;
    b.fwd = p;
    b.dout = dd.data();
    b.dq = gq.data();
    b.dk = gk.data();
    b.dv = gv.data();
    b.total_q = static_cast<int>(L);
    device_buffer<unsigned char> work(
        lsk::cuda::flash_attention_backward_workspace_bytes(static_cast<int>(L), c.heads, c.head_dim, false));
    b.workspace = work.data();
    lsk::cuda::flash_attention_backward(b);
    LSK_CUDA_CHECK(cudaDeviceSynchronize());
    o_one = down(o);
    dq_one = down(gq);
    dk_one = down(gk);
    dv_one = down(gv);
  }

  // The ring: every rank's shard up, forward and backward, shards down and back in order.
  std::vector<float> o_ring(nq), lse_ring(lse_ref.size()), dq_ring(nq), dk_ring(nk), dv_ring(nk);
  device_thread_world world(c.ranks);
  std::exception_ptr failure;
  std::mutex failure_mutex;
  std::vector<std::thread> threads;
  const int device = lsk::cuda::current_device();
  for (int r = 0; r < c.ranks; ++r) {
    threads.emplace_back([&, r] {
      try {
        LSK_CUDA_CHECK(cudaSetDevice(device));
        device_thread_communicator comm(world, r);
        const auto lq = static_cast<std::size_t>(s.local_len() * c.heads * c.head_dim);
        const auto lk = static_cast<std::size_t>(s.local_len() * c.kv_heads * c.head_dim);
        auto shard = [&](const std::vector<bf16>& x, std::size_t n) {
          std::vector<bf16> local(n);
          att::zigzag_shard<bf16>(s, r, x, local);
          return device_buffer<bf16>::from_host(local);
        };
        auto sq = shard(q, lq), sk = shard(k, lk), sv = shard(v, lk), sd = shard(dout, lq);
        device_buffer<bf16> so(lq), gq(lq), gk(lk), gv(lk);
        device_buffer<float> slse(static_cast<std::size_t>(s.local_len() * c.heads));
        cudaStream_t stream = nullptr;
        LSK_CUDA_CHECK(cudaStreamCreate(&stream));
        lsk::cuda::ring_attention_workspace ws(s);
        lsk::cuda::ring_attention_forward(comm, ws, sq.data(), sk.data(), sv.data(), scale, so.data(), slse.data(),
                                          stream);
        lsk::cuda::ring_attention_backward(comm, ws, sq.data(), sk.data(), sv.data(), so.data(), slse.data(), sd.data(),
                                           scale, gq.data(), gk.data(), gv.data(), stream);
        LSK_CUDA_CHECK(cudaStreamSynchronize(stream));
        LSK_CUDA_CHECK(cudaStreamDestroy(stream));
        auto unshard = [&](const device_buffer<bf16>& b, std::vector<float>& global) {
          const auto local = down(b);
          att::zigzag_unshard<float>(s, r, local, global);
        };
        unshard(so, o_ring);
        unshard(gq, dq_ring);
        unshard(gk, dk_ring);
        unshard(gv, dv_ring);
        std::vector<float> lse_local(slse.size());
        slse.copy_to_host(lse_local);
        att::zigzag_unshard<float>(s, r, lse_local, lse_ring);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);

  const struct {
    const char* name;
    const std::vector<float>&ring, &one, &oracle;
  } outputs[] = {{"out", o_ring, o_one, o_ref},
                 {"dq", dq_ring, dq_one, dq_ref},
                 {"dk", dk_ring, dk_one, dk_ref},
                 {"dv", dv_ring, dv_one, dv_ref}};
  for (const auto& o : outputs) {
    const double ring_err = max_error(o.ring, o.oracle), one_err = max_error(o.one, o.oracle);
    CAPTURE(o.name, ring_err, one_err, max_abs(o.oracle));
    CHECK(ring_err <= 3 * one_err + 1e-3 * max_abs(o.oracle));
  }
  CHECK(max_error(lse_ring, lse_ref) <= 1e-3);
}
