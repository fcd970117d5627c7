// backends/cuda/src/flash_attention_fwd.cu: the flash-attention forward
// (declared in lsk/backends/cuda/flash_attention.hpp).
//
// Algorithm (FlashAttention-2): one thread block per (query block, query
// head, sequence); 4 warps. The query block has 64 * MT rows and each warp
// owns MT m-tiles of 16 rows (rows i * 64 + warp * 16 + [0, 16) for
// i < MT): MT = 1 (flash_variant::v1) keeps Q in registers as mma A
// fragments; MT = 2 (v2 and v3, the default: 128 rows, 32 per warp) keeps them in
// registers for D = 64 and re-reads them from shared memory with ldmatrix at
// each key block for D = 128, so that each K and V fragment read from shared
// memory feeds MT m-tiles. The block walks the key blocks of 64: K and V
// tiles are copied to shared memory with cp.async (16 bytes per request;
// V_j's copy overlaps S = Q K_j^T and the softmax, K_{j+1}'s overlaps
// P V_j), S is computed with mma.sync m16n8k16 (bf16 x bf16 -> f32), masked
// where a 64-row m-tile group crosses the causal diagonal, the end of the
// sequence or a document boundary, and folded into the running softmax in
// registers; P is rounded to bf16 (packed at once) and multiplied by V from
// shared memory (ldmatrix.trans) into the f32 output accumulator. Key
// blocks entirely above the block's last causal row are never visited;
// query blocks past the sequence's end exit at once; the heaviest causal
// query blocks are scheduled first.
// Numerics: scores are scaled by scale * log2(e) and exponentiated with
// exp2; the running maximum m and sum l are f32, l is kept per thread and
// reduced over the 4 threads of a row at the end; o = acc / l rounded to
// bf16, lse = (m + log2 l) * ln 2 (natural log, -inf for a row that sees no
// key, whose output is 0). Accumulation is f32 throughout; only P is
// rounded to bf16 before P V, as in FlashAttention-2. Both MT do the same
// arithmetic per row in the same order, so their results are equal.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "flash_attention_common.cuh"
#include "lsk/backends/cuda/error.hpp"
#include "lsk/backends/cuda/flash_attention.hpp"

namespace lsk::cuda {
namespace flash {
namespace {

struct fwd_args {
  const std::uint16_t* q;
  const std::uint16_t* k;
  const std::uint16_t* v;
  std::uint16_t* o;
  float* lse;
  const std::int32_t* cu_q;
  const std::int32_t* cu_k;
  const std::int32_t* docs;
  int heads, kv_heads;
  float scale_log2;
  bool causal;
};

// MT = m-tiles of 16 query rows per warp: the block holds 64 * MT queries.
// MT = 1 keeps Q in registers; MT = 2 (when Q would not fit, D = 128) reads
// Q's A fragments from shared memory at each key block, so that each K and V
// fragment read from shared memory feeds twice as many mma.
template <int D, int MT>
constexpr int fwd_smem_bytes() {
  return (MT * block_rows + 2 * block_cols) * (D + 8) * 2 + (block_cols + MT * block_rows) * 4;
}

template <int D, int MT>
__global__ void __launch_bounds__(threads) fwd_kernel(fwd_args p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  constexpr int pitch = D + 8;
  constexpr int q_rows = MT * block_rows;
  constexpr bool q_in_regs = D * MT <= 128;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  auto* qs = reinterpret_cast<std::uint16_t*>(smem_raw);
  std::uint16_t* ks = qs + q_rows * pitch;
  std::uint16_t* vs = ks + block_cols * pitch;
  auto* doc_ks = reinterpret_cast<std::int32_t*>(vs + block_cols * pitch);
  std::int32_t* doc_qs = doc_ks + block_cols;  // documents of the block's queries

  const seq_info s = load_seq(p.cu_q, p.cu_k, static_cast<int>(blockIdx.z));
  // Heaviest (latest) causal query blocks first.
  const int m_block = static_cast<int>(gridDim.x - 1 - blockIdx.x);
  const int q0 = m_block * q_rows;
  if (q0 >= s.q_len) return;
  const int h = static_cast<int>(blockIdx.y);
  const int kvh = h / (p.heads / p.kv_heads);
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, t = lane % 4;
  const bool by_doc = p.docs != nullptr;

  const long long q_ld = static_cast<long long>(p.heads) * D;
  const long long kv_ld = static_cast<long long>(p.kv_heads) * D;
  const std::uint16_t* q_base = p.q + (static_cast<long long>(s.q_start) + q0) * q_ld + static_cast<long long>(h) * D;
  const std::uint16_t* k_base = p.k + static_cast<long long>(s.k_start) * kv_ld + static_cast<long long>(kvh) * D;
  const std::uint16_t* v_base = p.v + static_cast<long long>(s.k_start) * kv_ld + static_cast<long long>(kvh) * D;

  // Key blocks to visit: all, or up to the last key the block's last query sees.
  int k_end = s.k_len;
  if (p.causal) k_end = min(k_end, min(s.q_len, q0 + q_rows) + s.offset);
  const int n_blocks = k_end > 0 ? (k_end + block_cols - 1) / block_cols : 0;

  // Prologue: Q and the first K tile; V_j is requested at the top of step j and
  // K_{j+1} once every warp is done with K_j, so each copy overlaps an mma phase.
  load_tile<D, q_rows>(qs, q_base, q_ld, s.q_len - q0, tid);
  if (n_blocks > 0) load_tile<D>(ks, k_base, kv_ld, s.k_len, tid);
  cp_async_commit();
  if (by_doc) {
    for (int r = tid; r < q_rows; r += threads) doc_qs[r] = query_doc(p.docs, s, q0 + r);
  }
  cp_async_wait<0>();
  __syncthreads();

  // m-tile i of this warp: rows q0 + i * 64 + warp * 16 + [0, 16).
  std::uint32_t qf[q_in_regs ? MT : 1][q_in_regs ? D / 16 : 1][4];
  if constexpr (q_in_regs) {
#pragma unroll
    for (int i = 0; i < MT; ++i) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) load_a(qf[i][kk], qs, pitch, i * block_rows + warp * 16, kk * 16, lane);
    }
  }

  // This thread's rows: (i, r) -> row g + 8 r of m-tile i, local_row(i, r) in the block.
  const auto local_row = [&](int i, int r) { return i * block_rows + warp * 16 + g + r * 8; };
  float m_run[MT][2], l_run[MT][2];
#pragma unroll
  for (int i = 0; i < MT; ++i) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      m_run[i][r] = -INFINITY;
      l_run[i][r] = 0.0f;
    }
  }
  float acc[MT][D / 8][4];
#pragma unroll
  for (int i = 0; i < MT; ++i) {
#pragma unroll
    for (int n = 0; n < D / 8; ++n) acc[i][n][0] = acc[i][n][1] = acc[i][n][2] = acc[i][n][3] = 0.0f;
  }

  for (int j = 0; j < n_blocks; ++j) {
    const int k0 = j * block_cols;
    __syncthreads();  // every warp is done with the previous V tile and document ids
    load_tile<D>(vs, v_base + static_cast<long long>(k0) * kv_ld, kv_ld, s.k_len - k0, tid);
    cp_async_commit();
    if (by_doc && tid < block_cols) doc_ks[tid] = k0 + tid < s.k_len ? p.docs[s.k_start + k0 + tid] : -1;
    cp_async_wait<1>();  // K_j has landed (V_j may still be in flight)
    __syncthreads();

    // S = Q K^T: MT x 16 rows x 64 keys per warp, 8 n-tiles of 8 keys.
    float sc[MT][8][4];
#pragma unroll
    for (int i = 0; i < MT; ++i) {
#pragma unroll
      for (int n = 0; n < 8; ++n) sc[i][n][0] = sc[i][n][1] = sc[i][n][2] = sc[i][n][3] = 0.0f;
    }
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      std::uint32_t a[MT][4];
#pragma unroll
      for (int i = 0; i < MT; ++i) {
        if constexpr (q_in_regs) {
#pragma unroll
          for (int e = 0; e < 4; ++e) a[i][e] = qf[i][kk][e];
        } else {
          load_a(a[i], qs, pitch, i * block_rows + warp * 16, kk * 16, lane);
        }
      }
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        std::uint32_t b[4];
        load_b_nk(b, ks, pitch, np * 16, kk * 16, lane);
#pragma unroll
        for (int i = 0; i < MT; ++i) {
          mma(sc[i][2 * np], a[i], b[0], b[1]);
          mma(sc[i][2 * np + 1], a[i], b[2], b[3]);
        }
      }
    }

#pragma unroll
    for (int i = 0; i < MT; ++i) {
      if (tile_needs_mask(q0 + i * block_rows, k0, s, p.causal, by_doc)) {
#pragma unroll
        for (int n = 0; n < 8; ++n) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int r = e / 2, key_local = n * 8 + 2 * t + (e % 2);
            const int doc_k = by_doc ? doc_ks[key_local] : 0;
            const int doc_q = by_doc ? doc_qs[local_row(i, r)] : 0;
            if (!visible(q0 + local_row(i, r), k0 + key_local, s, p.causal, by_doc, doc_q, doc_k)) {
              sc[i][n][e] = -INFINITY;
            }
          }
        }
      }
    }

    // Online softmax, in the log2 domain of the scaled scores. P is packed to
    // bf16 at once (pk[i][n][r]: row g + 8 r, keys n * 8 + 2t, +1), halving its registers.
    std::uint32_t pk[MT][8][2];
#pragma unroll
    for (int i = 0; i < MT; ++i) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int n = 0; n < 8; ++n) mx = fmaxf(mx, fmaxf(sc[i][n][2 * r], sc[i][n][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(m_run[i][r], mx * p.scale_log2);
        // A row with no visible key so far keeps m = -inf; subtract 0 then (every p is 0).
        const float m_use = m_new == -INFINITY ? 0.0f : m_new;
        const float alpha = exp2f(m_run[i][r] - m_use);
        float sum = 0.0f;
#pragma unroll
        for (int n = 0; n < 8; ++n) {
          const float p0 = exp2f(fmaf(sc[i][n][2 * r], p.scale_log2, -m_use));
          const float p1 = exp2f(fmaf(sc[i][n][2 * r + 1], p.scale_log2, -m_use));
          sum += p0 + p1;
          pk[i][n][r] = pack_bf16(p0, p1);
        }
        l_run[i][r] = l_run[i][r] * alpha + sum;
        m_run[i][r] = m_new;
#pragma unroll
        for (int n = 0; n < D / 8; ++n) {
          acc[i][n][2 * r] *= alpha;
          acc[i][n][2 * r + 1] *= alpha;
        }
      }
    }

    cp_async_wait<0>();
    __syncthreads();  // V_j has landed, and every warp is done with K_j
    if (j + 1 < n_blocks) {
      load_tile<D>(ks, k_base + static_cast<long long>(k0 + block_cols) * kv_ld, kv_ld, s.k_len - k0 - block_cols, tid);
      cp_async_commit();
    }

    // O += P V: P's C fragments of key n-tiles 2kt, 2kt + 1 are the A fragment of key step kt.
#pragma unroll
    for (int kt = 0; kt < block_cols / 16; ++kt) {
      std::uint32_t a[MT][4];
#pragma unroll
      for (int i = 0; i < MT; ++i) {
        a[i][0] = pk[i][2 * kt][0];
        a[i][1] = pk[i][2 * kt][1];
        a[i][2] = pk[i][2 * kt + 1][0];
        a[i][3] = pk[i][2 * kt + 1][1];
      }
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        std::uint32_t b[4];
        load_b_kn(b, vs, pitch, kt * 16, dp * 16, lane);
#pragma unroll
        for (int i = 0; i < MT; ++i) {
          mma(acc[i][2 * dp], a[i], b[0], b[1]);
          mma(acc[i][2 * dp + 1], a[i], b[2], b[3]);
        }
      }
    }
  }

  // Finish: reduce l over the row's 4 threads, normalise, store.
  std::uint16_t* o_base = p.o + static_cast<long long>(s.q_start) * q_ld + static_cast<long long>(h) * D;
#pragma unroll
  for (int i = 0; i < MT; ++i) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float l = l_run[i][r];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int row = q0 + local_row(i, r);
      if (row >= s.q_len) continue;
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      std::uint16_t* out = o_base + static_cast<long long>(row) * q_ld;
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        *reinterpret_cast<std::uint32_t*>(out + n * 8 + 2 * t) =
            pack_bf16(acc[i][n][2 * r] * inv, acc[i][n][2 * r + 1] * inv);
      }
      if (t == 0) {
        p.lse[(static_cast<long long>(s.q_start) + row) * p.heads + h] =
            l > 0.0f ? (m_run[i][r] + log2f(l)) * ln2 : -INFINITY;
      }
    }
  }
#endif
}

template <int D, int MT>
void launch_fwd(const flash_attention_params& prm, cudaStream_t stream) {
  fwd_args a{};
  a.q = reinterpret_cast<const std::uint16_t*>(prm.q);
  a.k = reinterpret_cast<const std::uint16_t*>(prm.k);
  a.v = reinterpret_cast<const std::uint16_t*>(prm.v);
  a.o = reinterpret_cast<std::uint16_t*>(prm.o);
  a.lse = prm.lse;
  a.cu_q = prm.cu_seqlens_q;
  a.cu_k = prm.cu_seqlens_k;
  a.docs = prm.documents;
  a.heads = prm.heads;
  a.kv_heads = prm.kv_heads;
  a.scale_log2 = prm.scale * log2e;
  a.causal = prm.causal;
  constexpr int smem = fwd_smem_bytes<D, MT>();
  LSK_CUDA_CHECK(cudaFuncSetAttribute(fwd_kernel<D, MT>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  const dim3 grid(static_cast<unsigned>((prm.max_seqlen_q + MT * block_rows - 1) / (MT * block_rows)),
                  static_cast<unsigned>(prm.heads), static_cast<unsigned>(prm.batch));
  fwd_kernel<D, MT><<<grid, threads, smem, stream>>>(a);
  check(cudaGetLastError(), "flash fwd_kernel<<<...>>>", __FILE__, __LINE__);
}

}  // namespace
}  // namespace flash

void flash_attention_forward(const flash_attention_params& p, cudaStream_t stream) {
  check_flash_attention_params(p, "cuda::flash_attention_forward");
  if (p.o == nullptr || p.lse == nullptr) raise<error>("cuda::flash_attention_forward: null o or lse");
  if (p.batch == 0 || p.max_seqlen_q == 0) return;
  // Variant 1: 64 query rows per block (one m-tile per warp); variants 2 and 3: 128 (two).
  const bool wide = p.variant != flash_variant::v1;
  if (p.head_dim == 64) {
    if (wide) {
      flash::launch_fwd<64, 2>(p, stream);
    } else {
      flash::launch_fwd<64, 1>(p, stream);
    }
  } else if (wide) {
    flash::launch_fwd<128, 2>(p, stream);
  } else {
    flash::launch_fwd<128, 1>(p, stream);
  }
}

}  // namespace lsk::cuda
