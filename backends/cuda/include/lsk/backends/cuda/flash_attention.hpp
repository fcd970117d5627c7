// lsk/backends/cuda/flash_attention.hpp: fused attention on the GPU
// (FlashAttention-2 style), forward and backward, bf16 in and out.
//
// Host declarations (compile with any C++20 compiler); the kernels live in
// backends/cuda/src/flash_attention_{fwd,bwd}.cu and need sm_80 or newer
// (bf16 tensor-core mma).
//
// Layout (the token-major layout of lsk/attention/naive.hpp):
//   q, o, do, dq: (total_q, heads, head_dim), row-major, bf16 bits;
//   k, v, dk, dv: (total_k, kv_heads, head_dim);
//   lse:          (total_q, heads) f32, natural log: lse = log sum_j exp(scale q.k_j),
//                 i.e. (token, head) -> token * heads + head, as in lsk/attention/tiled.hpp.
// A batch of sequences of different lengths is packed along the token axis
// and described by cumulative offsets (flash-attn's varlen convention):
// sequence b owns query tokens [cu_seqlens_q[b], cu_seqlens_q[b + 1]) and key
// tokens [cu_seqlens_k[b], cu_seqlens_k[b + 1]) (cu_seqlens_k == nullptr:
// the same offsets as the queries). Query head h reads key/value head
// h / (heads / kv_heads); K and V are never copied per query head.
//
// Masks (lsk/attention/mask.hpp): with q_len queries and k_len keys in a
// sequence, causal lets query i see key j only when j <= i + (k_len - q_len)
// (bottom-right aligned, as with a KV cache). documents, when not null, holds
// one int32 id per key token (total_k entries, indexed by the global key
// token); query i of a sequence then also sees key j only when
// documents[j] == documents[i + k_len - q_len] (its own token's id), exactly
// lsk's document mask: packed documents need no extra sequences, ids are
// labels compared for equality. With documents, k_len >= q_len is required.
// Documents may also be expressed as separate varlen sequences, which is
// faster (whole blocks are skipped instead of masked element by element).
//
// A query that sees no key gets o = 0 and lse = -inf (as the CPU attentions).
// All pointers are device pointers, aligned on 16 bytes (the q/k/v/o/do/dq/
// dk/dv rows are read with 16-byte vector accesses); head_dim is 64 or 128.
// The functions enqueue the work on `stream` and return without waiting.
// Invalid arguments throw lsk::error / lsk::shape_error; launch errors throw
// lsk::cuda_error.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "lsk/core/bf16.hpp"
#include "lsk/core/error.hpp"

namespace lsk::cuda {

// Kernel configurations (for benchmarking one against another; all give the
// same results up to f32 summation order). v1: the forward holds 64 queries
// per thread block (16 per warp); the backward's dK/dV pass holds 64 keys per
// block (4 warps). v2: the forward holds 128 queries per block (32 per warp),
// the backward's dK/dV pass 128 keys per block (8 warps) with the next query
// block's Q and dO prefetched (156 KiB of shared memory per block at head_dim
// 128; on a device with less, the backward uses v1's dK/dV pass). v3: v2,
// except that the atomic-dQ backward skips the key tiles that a warp's
// queries cannot see in its dQ product and, on sm_90, adds dQ with vector
// reductions (the deterministic backward and the forward are v2's).
// automatic picks the default (v3: on an H100, forward+backward 0.75-0.89x of
// PyTorch SDPA's flash backend against v2's 0.69-0.84x; docs/PERFORMANCE.md).
enum class flash_variant { automatic = 0, v1 = 1, v2 = 2, v3 = 3 };

struct flash_attention_params {
  const bf16* q = nullptr;
  const bf16* k = nullptr;
  const bf16* v = nullptr;
  bf16* o = nullptr;     // forward output
  float* lse = nullptr;  // forward output, (total_q, heads)

  const std::int32_t* cu_seqlens_q = nullptr;  // batch + 1 offsets, device memory
  const std::int32_t* cu_seqlens_k = nullptr;  // nullptr: cu_seqlens_q
  const std::int32_t* documents = nullptr;     // nullptr, or one id per key token

  int batch = 0;
  int max_seqlen_q = 0;  // upper bounds of the per-sequence lengths (size the grid)
  int max_seqlen_k = 0;  // 0: max_seqlen_q
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;  // 64 or 128
  float scale = 0;   // softmax scale, typically 1 / sqrt(head_dim)
  bool causal = true;
  flash_variant variant = flash_variant::automatic;  // forward and backward kernel configuration
};

// The backward reads q, k, v, o, lse of the forward and writes dq, dk, dv.
struct flash_attention_backward_params {
  flash_attention_params fwd;  // q, k, v, o, lse are read; the shape fields as in the forward
  const bf16* dout = nullptr;  // (total_q, heads, head_dim)
  bf16* dq = nullptr;
  bf16* dk = nullptr;
  bf16* dv = nullptr;
  int total_q = 0;  // cu_seqlens_q[batch] (sizes the workspace and the element-wise kernels)
  // f32 scratch of flash_attention_backward_workspace_bytes(): D = rowsum(dO * O)
  // and, unless deterministic, the dq accumulator (atomicAdd from every key block).
  void* workspace = nullptr;
  // true: dq is computed by a separate pass over the key blocks per query block
  // (no atomics; bitwise reproducible, about one extra forward's work).
  bool deterministic = false;
};

std::size_t flash_attention_backward_workspace_bytes(int total_q, int heads, int head_dim, bool deterministic);

// offsets[b] = b * seq_len for b = 0 .. batch (batch + 1 device int32s): the
// cu_seqlens of `batch` sequences of seq_len tokens each.
void fill_sequence_offsets(std::int32_t* offsets, int batch, int seq_len, cudaStream_t stream = nullptr);

void flash_attention_forward(const flash_attention_params& p, cudaStream_t stream = nullptr);
void flash_attention_backward(const flash_attention_backward_params& p, cudaStream_t stream = nullptr);

// Argument checks shared by the two launchers (host only).
inline void check_flash_attention_params(const flash_attention_params& p, const char* op) {
  if (p.q == nullptr || p.k == nullptr || p.v == nullptr || p.cu_seqlens_q == nullptr) {
    raise<error>(op, ": null q, k, v or cu_seqlens_q");
  }
  if (p.head_dim != 64 && p.head_dim != 128) raise<shape_error>(op, ": head_dim ", p.head_dim, " (64 or 128)");
  if (p.heads <= 0 || p.kv_heads <= 0 || p.heads % p.kv_heads != 0) {
    raise<shape_error>(op, ": kv_heads ", p.kv_heads, " must divide heads ", p.heads);
  }
  if (p.batch < 0 || p.max_seqlen_q < 0 || p.max_seqlen_k < 0) {
    raise<shape_error>(op, ": negative batch or maximum length");
  }
  if (p.batch > 65535 || p.heads > 65535) {
    raise<shape_error>(op, ": batch ", p.batch, " and heads ", p.heads, " must not exceed 65535 (grid limits)");
  }
  if (!(p.scale > 0.0f)) raise<error>(op, ": softmax scale ", p.scale, " must be positive");
}

}  // namespace lsk::cuda
