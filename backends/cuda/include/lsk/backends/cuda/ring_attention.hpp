// lsk/backends/cuda/ring_attention.hpp: context-parallel (ring) attention on
// GPUs: the zigzag ring of lsk/attention/ring.hpp with the flash-attention
// kernels (lsk/backends/cuda/flash_attention.hpp) for each chunk pair, bf16 in
// and out, partial results merged and summed in f32. Host code (any C++20
// compiler); kernels in src/ring_kernels.cu and the flash-attention sources.
//
// Layout: every rank holds its zigzag shard (ring.hpp: chunks r and 2P-1-r of
// c = seq_len / 2P tokens) in device memory: q, out, dout, dq (2c, heads,
// head_dim) bf16; k, v, dk, dv (2c, kv_heads, head_dim) bf16; lse (2c, heads)
// f32. The communicator moves device memory (nccl_communicator, e.g. from
// dist::nccl_from_mpi), and its send_recv has completed when it returns.
// Schedule: for_each_ring_pair / ring_owner / ring_next / ring_prev of ring.hpp,
// the host ring's own (tests/unit/test_dist.cpp checks it visits each visible
// chunk pair once with equal work per rank).
// Forward: per pair, flash_attention_forward (causal on the diagonal, every key
// visible below it) into a bf16 partial out and f32 partial lse, merged into
// an f32 accumulator (ring_merge_partial); then out = bf16(accumulator). The
// visiting block [k | v] travels as its raw bf16 bytes in f32 words (the
// communicator's element type; nothing is converted).
// Backward: per pair, flash_attention_backward on the pair's q, k, v with the
// FINAL out and lse, so the kernel's P = exp(S - lse) and D = rowsum(dO * O)
// are those of the whole attention; the pair's bf16 dq, dk, dv are added to f32
// accumulators (dq stays, dk/dv travel with the block [k | v | dk | dv] and are
// home after P shifts); then dq, dk, dv = bf16(accumulators).
// Numerics: each pair's partial is rounded to bf16 once before its f32 merge
// or sum, so a row that sees n pairs (at most 2P) carries up to n such
// roundings on top of the single-GPU kernel's error.
// Masks: causal only; document ids are not supported (the kernel's document
// mask reads a query's own id among the keys, which a pair below the diagonal
// does not hold).
// Streams: kernels run on `stream`; before each shift the stream is
// synchronised so the communicator sends finished data.
// Tested on an H100 against the f32 oracle (backends/cuda/tests/test_cuda_ring_attention.cpp,
// skipped without a GPU).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "lsk/attention/ring.hpp"
#include "lsk/backends/cuda/convert.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/backends/cuda/error.hpp"
#include "lsk/backends/cuda/flash_attention.hpp"
#include "lsk/backends/cuda/ring_kernels.hpp"
#include "lsk/dist/communicator.hpp"

namespace lsk::cuda {

// Device scratch of one rank for one ring shape (reusable across calls).
class ring_attention_workspace {
 public:
  explicit ring_attention_workspace(const attention::ring_shape& s, bool deterministic_backward = false)
      : shape_(s), deterministic_(deterministic_backward) {
    s.check();
    if (s.head_dim != 64 && s.head_dim != 128) {
      raise<shape_error>("cuda ring attention: head_dim ", s.head_dim, " (the flash kernels take 64 or 128)");
    }
    const auto c = static_cast<std::size_t>(s.chunk());
    const std::vector<std::int32_t> offsets{0, static_cast<std::int32_t>(c)};
    cu_seqlens = device_buffer<std::int32_t>::from_host(offsets);
    part_out = device_buffer<bf16>(q_chunk());
    part_lse = device_buffer<float>(c * static_cast<std::size_t>(s.heads));
    acc = device_buffer<float>(2 * q_chunk());
    dq_part = device_buffer<bf16>(q_chunk());
    dk_part = device_buffer<bf16>(kv_chunk());
    dv_part = device_buffer<bf16>(kv_chunk());
    cur = device_buffer<float>(3 * kv_elems());
    next = device_buffer<float>(3 * kv_elems());
    flash = device_buffer<unsigned char>(flash_attention_backward_workspace_bytes(
        static_cast<int>(c), static_cast<int>(s.heads), static_cast<int>(s.head_dim), deterministic_));
  }

  const attention::ring_shape& shape() const { return shape_; }
  bool deterministic() const { return deterministic_; }
  std::size_t q_chunk() const { return static_cast<std::size_t>(shape_.chunk() * shape_.heads * shape_.head_dim); }
  std::size_t kv_chunk() const { return static_cast<std::size_t>(shape_.chunk() * shape_.kv_heads * shape_.head_dim); }
  std::size_t kv_elems() const { return 2 * kv_chunk(); }  // elements of a local k (or v)

  device_buffer<std::int32_t> cu_seqlens;  // {0, c}: one sequence of a chunk
  device_buffer<bf16> part_out;            // a pair's out (c, heads, head_dim)
  device_buffer<float> part_lse;           // a pair's lse (c, heads)
  device_buffer<float> acc;                // f32 out (forward) or dq (backward), (2c, heads, head_dim)
  device_buffer<bf16> dq_part, dk_part, dv_part;
  // The visiting block: [k | v] as bf16 bytes (kv_elems f32 words), then dk, dv in f32 (backward).
  device_buffer<float> cur, next;
  device_buffer<unsigned char> flash;  // flash_attention_backward's workspace

 private:
  attention::ring_shape shape_;
  bool deterministic_;
};

namespace ring_detail {
inline bf16* block_bf16(device_buffer<float>& b) { return reinterpret_cast<bf16*>(b.data()); }

template <Communicator C>
void check_ring(const C& comm, const ring_attention_workspace& ws) {
  if (comm.size() != ws.shape().ranks) {
    raise<shape_error>("cuda ring attention: workspace for ", ws.shape().ranks, " ranks, communicator has ",
                       comm.size());
  }
}

inline flash_attention_params pair_params(const ring_attention_workspace& ws, const attention::ring_pair& pr,
                                          const bf16* q, const bf16* kv_block, float scale) {
  const auto& s = ws.shape();
  flash_attention_params p;
  p.q = q + static_cast<std::size_t>(pr.qa) * ws.q_chunk();
  p.k = kv_block + static_cast<std::size_t>(pr.ka) * ws.kv_chunk();
  p.v = kv_block + ws.kv_elems() + static_cast<std::size_t>(pr.ka) * ws.kv_chunk();
  p.cu_seqlens_q = ws.cu_seqlens.data();
  p.batch = 1;
  p.max_seqlen_q = static_cast<int>(s.chunk());
  p.heads = static_cast<int>(s.heads);
  p.kv_heads = static_cast<int>(s.kv_heads);
  p.head_dim = static_cast<int>(s.head_dim);
  p.scale = scale;
  p.causal = pr.diagonal;
  return p;
}

// Passes the visiting block (from f32 word `from` on) to the next rank.
template <Communicator C>
void shift(C& comm, ring_attention_workspace& ws, std::size_t from, cudaStream_t stream) {
  LSK_CUDA_CHECK(cudaStreamSynchronize(stream));
  const int r = comm.rank();
  comm.send_recv(std::span<const float>(ws.cur.data() + from, ws.cur.size() - from),
                 attention::ring_next(ws.shape(), r), std::span<float>(ws.next.data() + from, ws.next.size() - from),
                 attention::ring_prev(ws.shape(), r));
  std::swap(ws.cur, ws.next);
}
}  // namespace ring_detail

// Forward on this rank's shard: writes out (bf16) and lse (f32).
template <Communicator C>
void ring_attention_forward(C& comm, ring_attention_workspace& ws, const bf16* q, const bf16* k, const bf16* v,
                            float scale, bf16* out, float* lse, cudaStream_t stream = nullptr) {
  using namespace ring_detail;
  check_ring(comm, ws);
  const auto& s = ws.shape();
  const int r = comm.rank();
  const std::size_t c = static_cast<std::size_t>(s.chunk()), rows = c * static_cast<std::size_t>(s.heads);
  const std::size_t kv_bytes = ws.kv_elems() * sizeof(bf16);
  LSK_CUDA_CHECK(cudaMemcpyAsync(block_bf16(ws.cur), k, kv_bytes, cudaMemcpyDeviceToDevice, stream));
  LSK_CUDA_CHECK(cudaMemcpyAsync(block_bf16(ws.cur) + ws.kv_elems(), v, kv_bytes, cudaMemcpyDeviceToDevice, stream));
  fill_f32(ws.acc.data(), ws.acc.size(), 0.0f, stream);
  fill_f32(lse, 2 * rows, -std::numeric_limits<float>::infinity(), stream);
  for (int step = 0; step < s.ranks; ++step) {
    attention::for_each_ring_pair(s, r, step, [&](const attention::ring_pair& pr) {
      auto p = pair_params(ws, pr, q, block_bf16(ws.cur), scale);
      p.o = ws.part_out.data();
      p.lse = ws.part_lse.data();
      flash_attention_forward(p, stream);
      ring_merge_partial(ws.part_out.data(), ws.part_lse.data(), ws.acc.data() + pr.qa * ws.q_chunk(),
                         lse + static_cast<std::size_t>(pr.qa) * rows, rows, static_cast<int>(s.head_dim), stream);
    });
    if (step + 1 < s.ranks) shift(comm, ws, 0, stream);
  }
  f32_to_bf16(ws.acc.data(), out, ws.acc.size(), stream);
}

// Backward on this rank's shard from the forward's out and lse: writes dq, dk, dv (bf16).
template <Communicator C>
void ring_attention_backward(C& comm, ring_attention_workspace& ws, const bf16* q, const bf16* k, const bf16* v,
                             const bf16* out, const float* lse, const bf16* dout, float scale, bf16* dq, bf16* dk,
                             bf16* dv, cudaStream_t stream = nullptr) {
  using namespace ring_detail;
  check_ring(comm, ws);
  const auto& s = ws.shape();
  const int r = comm.rank();
  const std::size_t rows = static_cast<std::size_t>(s.chunk() * s.heads), kv = ws.kv_elems();
  const std::size_t kv_bytes = kv * sizeof(bf16);
  LSK_CUDA_CHECK(cudaMemcpyAsync(block_bf16(ws.cur), k, kv_bytes, cudaMemcpyDeviceToDevice, stream));
  LSK_CUDA_CHECK(cudaMemcpyAsync(block_bf16(ws.cur) + kv, v, kv_bytes, cudaMemcpyDeviceToDevice, stream));
  fill_f32(ws.cur.data() + kv, 2 * kv, 0.0f, stream);  // dk, dv of the block: words [kv, 3 kv)
  fill_f32(ws.acc.data(), ws.acc.size(), 0.0f, stream);
  for (int step = 0; step < s.ranks; ++step) {
    attention::for_each_ring_pair(s, r, step, [&](const attention::ring_pair& pr) {
      flash_attention_backward_params b;
      b.fwd = pair_params(ws, pr, q, block_bf16(ws.cur), scale);
      b.fwd.o = const_cast<bf16*>(out + static_cast<std::size_t>(pr.qa) * ws.q_chunk());  // read only
      b.fwd.lse = const_cast<float*>(lse + static_cast<std::size_t>(pr.qa) * rows);       // read only
      b.dout = dout + static_cast<std::size_t>(pr.qa) * ws.q_chunk();
      b.dq = ws.dq_part.data();
      b.dk = ws.dk_part.data();
      b.dv = ws.dv_part.data();
      b.total_q = static_cast<int>(s.chunk());
      b.workspace = ws.flash.data();
      b.deterministic = ws.deterministic();
      flash_attention_backward(b, stream);
      float* dk_block = ws.cur.data() + kv;
      float* dv_block = dk_block + kv;
      accumulate_bf16(ws.dq_part.data(), ws.acc.data() + pr.qa * ws.q_chunk(), ws.q_chunk(), stream);
      accumulate_bf16(ws.dk_part.data(), dk_block + pr.ka * ws.kv_chunk(), ws.kv_chunk(), stream);
      accumulate_bf16(ws.dv_part.data(), dv_block + pr.ka * ws.kv_chunk(), ws.kv_chunk(), stream);
    });
    // The last shift brings the gradients home; (k, v) are home already.
    if (s.ranks > 1) shift(comm, ws, step + 1 < s.ranks ? 0 : kv, stream);
  }
  f32_to_bf16(ws.acc.data(), dq, ws.acc.size(), stream);
  f32_to_bf16(ws.cur.data() + kv, dk, kv, stream);
  f32_to_bf16(ws.cur.data() + 2 * kv, dv, kv, stream);
}

}  // namespace lsk::cuda
