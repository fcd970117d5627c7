// backends/cuda/src/flash_attention_fwd.cu: the flash-attention forward
// (declared in lsk/backends/cuda/flash_attention.hpp).
//
// Algorithm (FlashAttention-2): one thread block per (query block of 64
// rows, query head, sequence); 4 warps, each owning 16 query rows. Q is read
// once into registers as mma A fragments; the block then walks the key
// blocks of 64: K and V tiles are copied to shared memory with cp.async
// (16 bytes per request; V_j's copy overlaps S = Q K_j^T and the softmax,
// K_{j+1}'s overlaps P V_j), S is computed with mma.sync m16n8k16
// (bf16 x bf16 -> f32), masked where the tile
// crosses the causal diagonal, the end of the sequence or a document
// boundary, and folded into the running softmax in registers; P is rounded
// to bf16 and multiplied by V from shared memory (ldmatrix.trans) into the
// f32 output accumulator. Key blocks entirely above the causal diagonal are
// never visited; query blocks past the sequence's end exit at once.
// Numerics: scores are scaled by scale * log2(e) and exponentiated with
// exp2; the running maximum m and sum l are f32, l is kept per thread and
// reduced over the 4 threads of a row at the end; o = acc / l rounded to
// bf16, lse = (m + log2 l) * ln 2 (natural log, -inf for a row that sees no
// key, whose output is 0). Accumulation is f32 throughout; only P is
// rounded to bf16 before P V, as in FlashAttention-2.
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

template <int D>
constexpr int fwd_smem_bytes() {
  return 3 * block_rows * (D + 8) * 2 + block_cols * 4;
}

template <int D>
__global__ void __launch_bounds__(threads) fwd_kernel(fwd_args p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  constexpr int pitch = D + 8;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  auto* qs = reinterpret_cast<std::uint16_t*>(smem_raw);
  std::uint16_t* ks = qs + block_rows * pitch;
  std::uint16_t* vs = ks + block_cols * pitch;
  auto* doc_ks = reinterpret_cast<std::int32_t*>(vs + block_cols * pitch);

  const seq_info s = load_seq(p.cu_q, p.cu_k, static_cast<int>(blockIdx.z));
  // Heaviest (latest) causal query blocks first.
  const int m_block = static_cast<int>(gridDim.x - 1 - blockIdx.x);
  const int q0 = m_block * block_rows;
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
  if (p.causal) k_end = min(k_end, min(s.q_len, q0 + block_rows) + s.offset);
  const int n_blocks = k_end > 0 ? (k_end + block_cols - 1) / block_cols : 0;

  // Prologue: Q and the first K tile; V_j is requested at the top of step j and
  // K_{j+1} once every warp is done with K_j, so each copy overlaps an mma phase.
  load_tile<D>(qs, q_base, q_ld, s.q_len - q0, tid);
  if (n_blocks > 0) load_tile<D>(ks, k_base, kv_ld, s.k_len, tid);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  std::uint32_t qf[D / 16][4];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) load_a(qf[kk], qs, pitch, warp * 16, kk * 16, lane);

  // This thread's two rows: r = 0 -> g, r = 1 -> g + 8 of the warp's 16.
  int row[2], doc_q[2] = {0, 0};
  float m_run[2], l_run[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row[r] = q0 + warp * 16 + g + r * 8;
    m_run[r] = -INFINITY;
    l_run[r] = 0.0f;
    if (by_doc) doc_q[r] = query_doc(p.docs, s, row[r]);
  }
  float acc[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;

  for (int j = 0; j < n_blocks; ++j) {
    const int k0 = j * block_cols;
    __syncthreads();  // every warp is done with the previous V tile and document ids
    load_tile<D>(vs, v_base + static_cast<long long>(k0) * kv_ld, kv_ld, s.k_len - k0, tid);
    cp_async_commit();
    if (by_doc && tid < block_cols) doc_ks[tid] = k0 + tid < s.k_len ? p.docs[s.k_start + k0 + tid] : -1;
    cp_async_wait<1>();  // K_j has landed (V_j may still be in flight)
    __syncthreads();

    // S = Q K^T: 16 rows x 64 keys per warp, 8 n-tiles of 8 keys.
    float sc[8][4];
#pragma unroll
    for (int n = 0; n < 8; ++n) sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        std::uint32_t b[4];
        load_b_nk(b, ks, pitch, np * 16, kk * 16, lane);
        mma(sc[2 * np], qf[kk], b[0], b[1]);
        mma(sc[2 * np + 1], qf[kk], b[2], b[3]);
      }
    }

    if (tile_needs_mask(q0, k0, s, p.causal, by_doc)) {
#pragma unroll
      for (int n = 0; n < 8; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2, key_local = n * 8 + 2 * t + (e % 2);
          const int doc_k = by_doc ? doc_ks[key_local] : 0;
          if (!visible(row[r], k0 + key_local, s, p.causal, by_doc, doc_q[r], doc_k)) sc[n][e] = -INFINITY;
        }
      }
    }

    // Online softmax, in the log2 domain of the scaled scores.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = -INFINITY;
#pragma unroll
      for (int n = 0; n < 8; ++n) mx = fmaxf(mx, fmaxf(sc[n][2 * r], sc[n][2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m_run[r], mx * p.scale_log2);
      // A row with no visible key so far keeps m = -inf; subtract 0 then (every p is 0).
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;
      const float alpha = exp2f(m_run[r] - m_use);
      float sum = 0.0f;
#pragma unroll
      for (int n = 0; n < 8; ++n) {
        sc[n][2 * r] = exp2f(fmaf(sc[n][2 * r], p.scale_log2, -m_use));
        sc[n][2 * r + 1] = exp2f(fmaf(sc[n][2 * r + 1], p.scale_log2, -m_use));
        sum += sc[n][2 * r] + sc[n][2 * r + 1];
      }
      l_run[r] = l_run[r] * alpha + sum;
      m_run[r] = m_new;
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        acc[n][2 * r] *= alpha;
        acc[n][2 * r + 1] *= alpha;
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
      std::uint32_t a[4];
      a[0] = pack_bf16(sc[2 * kt][0], sc[2 * kt][1]);
      a[1] = pack_bf16(sc[2 * kt][2], sc[2 * kt][3]);
      a[2] = pack_bf16(sc[2 * kt + 1][0], sc[2 * kt + 1][1]);
      a[3] = pack_bf16(sc[2 * kt + 1][2], sc[2 * kt + 1][3]);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        std::uint32_t b[4];
        load_b_kn(b, vs, pitch, kt * 16, dp * 16, lane);
        mma(acc[2 * dp], a, b[0], b[1]);
        mma(acc[2 * dp + 1], a, b[2], b[3]);
      }
    }
  }

  // Finish: reduce l over the row's 4 threads, normalise, store.
  std::uint16_t* o_base = p.o + static_cast<long long>(s.q_start) * q_ld + static_cast<long long>(h) * D;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = l_run[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    if (row[r] >= s.q_len) continue;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    std::uint16_t* out = o_base + static_cast<long long>(row[r]) * q_ld;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      *reinterpret_cast<std::uint32_t*>(out + n * 8 + 2 * t) = pack_bf16(acc[n][2 * r] * inv, acc[n][2 * r + 1] * inv);
    }
    if (t == 0) {
      p.lse[(static_cast<long long>(s.q_start) + row[r]) * p.heads + h] =
          l > 0.0f ? (m_run[r] + log2f(l)) * ln2 : -INFINITY;
    }
  }
#endif
}

template <int D>
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
  constexpr int smem = fwd_smem_bytes<D>();
  LSK_CUDA_CHECK(cudaFuncSetAttribute(fwd_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  const dim3 grid(static_cast<unsigned>((prm.max_seqlen_q + block_rows - 1) / block_rows),
                  static_cast<unsigned>(prm.heads), static_cast<unsigned>(prm.batch));
  fwd_kernel<D><<<grid, threads, smem, stream>>>(a);
  check(cudaGetLastError(), "flash fwd_kernel<<<...>>>", __FILE__, __LINE__);
}

}  // namespace
}  // namespace flash

void flash_attention_forward(const flash_attention_params& p, cudaStream_t stream) {
  check_flash_attention_params(p, "cuda::flash_attention_forward");
  if (p.o == nullptr || p.lse == nullptr) raise<error>("cuda::flash_attention_forward: null o or lse");
  if (p.batch == 0 || p.max_seqlen_q == 0) return;
  if (p.head_dim == 64) {
    flash::launch_fwd<64>(p, stream);
  } else {
    flash::launch_fwd<128>(p, stream);
  }
}

}  // namespace lsk::cuda
