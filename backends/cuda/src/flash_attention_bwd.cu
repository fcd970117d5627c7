// backends/cuda/src/flash_attention_bwd.cu: the flash-attention backward
// (declared in lsk/backends/cuda/flash_attention.hpp).
//
// Algorithm (FlashAttention-2), three or four kernels on one stream:
//  1. delta_kernel: D_i = sum_d dO[i, d] * O[i, d] (f32, from the bf16 O of
//     the forward), one warp per (token, head).
//  2. dkdv_kernel: one thread block per (key block of 64, kv head, sequence);
//     4 warps, each owning 16 keys. K and V stay in shared memory; the block
//     walks the query heads of its GQA group and, for each, the query blocks
//     of 64 that can see its keys (causal: from the diagonal on). Per query
//     block it recomputes S^T = K Q^T and P^T = exp2(S^T scale log2 e - lse
//     log2 e) (lse from the forward), dP^T = V dO^T, dS^T = P^T (dP^T - D),
//     and accumulates dV += P^T dO and dK += dS^T Q in f32 registers (the
//     C fragments of P^T and dS^T are the A fragments of these products, so
//     they never leave registers). Unless deterministic, it also stores dS^T
//     (bf16) in shared memory and adds dQ += dS K of its keys into an f32
//     workspace with atomicAdd (4. converts it to bf16 times the scale).
//     With flash_variant::v2, dkdv_v2_kernel does the same
//     per warp with 128 keys per block (8 warps): Q and dO tiles are read
//     once per 128 keys, dQ's atomics are issued once per 128 keys (each
//     warp adds a 16-query x D/2 part of dS K), and the next step's Q, dO,
//     lse, D and document ids are copied into a second buffer while the
//     current step runs (cp.async, one group in flight); with causal
//     masking, a warp whose 16 keys no query of the step sees skips its
//     products. v1 (dkdv_kernel) reads Q and dO after each step, with no
//     overlap, and every warp computes every step. flash_variant::v3 (the default) is
//     v2 with a leaner atomic dQ product: each warp's key loop stops after the
//     last 16-key tile its queries see (causal) or that exists, and on sm_90
//     adjacent column pairs go out as one float2 atomicAdd.
//  3. dq_kernel (deterministic only, instead of the atomics): one thread block
//     per (query block, head, sequence) walks the key blocks like the
//     forward, recomputes P and dS and accumulates dQ in registers: no
//     atomics, bitwise reproducible.
// Tiles are copied with cp.async (16-byte requests, zero-filled past the
// sequence), fragments read with ldmatrix, products by mma.sync m16n8k16
// (bf16 x bf16 -> f32). Tiles crossing the causal diagonal, a sequence end
// or (with documents) any tile are masked element by element (P = 0).
// Numerics: f32 accumulation everywhere; P and dS are rounded to bf16 as mma
// operands (as in FlashAttention-2); dK and dQ are multiplied by the softmax
// scale once, in f32, before their final bf16 rounding.
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "flash_attention_common.cuh"
#include "lsk/backends/cuda/error.hpp"
#include "lsk/backends/cuda/flash_attention.hpp"

namespace lsk::cuda {
namespace flash {
namespace {

struct bwd_args {
  const std::uint16_t* q;
  const std::uint16_t* k;
  const std::uint16_t* v;
  const std::uint16_t* o;
  const std::uint16_t* dout;
  const float* lse;
  float* delta;   // (total_q, heads)
  float* dq_acc;  // (total_q, heads, D) f32, atomics mode only
  std::uint16_t* dq;
  std::uint16_t* dk;
  std::uint16_t* dv;
  const std::int32_t* cu_q;
  const std::int32_t* cu_k;
  const std::int32_t* docs;
  int heads, kv_heads, total_q;
  float scale, scale_log2;
  bool causal;
};

// Rounds up to a multiple of 4 floats so that the dq accumulator after delta stays 16-byte aligned.
std::size_t delta_floats(int total_q, int heads) {
  return (static_cast<std::size_t>(total_q) * static_cast<std::size_t>(heads) + 3) / 4 * 4;
}

// (token, head) -> delta = sum_d dO * O, one warp per row.
template <int D>
__global__ void __launch_bounds__(256) delta_kernel(bwd_args p) {
  const long long rows = static_cast<long long>(p.total_q) * p.heads;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const long long warps_total = static_cast<long long>(gridDim.x) * (blockDim.x / 32);
  for (long long r = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; r < rows; r += warps_total) {
    const std::uint32_t* o2 = reinterpret_cast<const std::uint32_t*>(p.o + r * D);
    const std::uint32_t* d2 = reinterpret_cast<const std::uint32_t*>(p.dout + r * D);
    float sum = 0.0f;
#pragma unroll
    for (int c = lane; c < D / 2; c += 32) {
      const std::uint32_t ow = o2[c], dw = d2[c];
      sum = fmaf(bf16_lo(ow), bf16_lo(dw), sum);
      sum = fmaf(bf16_hi(ow), bf16_hi(dw), sum);
    }
#pragma unroll
    for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) p.delta[r] = sum;
  }
}

// dq = bf16(dq_acc * scale), two elements per step.
__global__ void __launch_bounds__(256)
    dq_convert_kernel(const float* acc, std::uint16_t* dq, long long pairs, float scale) {
  const auto* in = reinterpret_cast<const float2*>(acc);
  auto* out = reinterpret_cast<std::uint32_t*>(dq);
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < pairs;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float2 v = in[i];
    out[i] = pack_bf16(v.x * scale, v.y * scale);
  }
}

// lse in the log2 domain for recomputing P; a row that saw no key (lse = -inf)
// gets +inf so that every recomputed p is 0.
__device__ __forceinline__ float lse_log2(float lse) { return lse == -INFINITY ? INFINITY : lse * log2e; }

template <int D>
constexpr int dkdv_smem_bytes() {
  return 4 * block_rows * (D + 8) * 2 + block_rows * (block_cols + 8) * 2 + 4 * 64 * 4;
}

template <int D, bool atomic_dq>
__global__ void __launch_bounds__(threads) dkdv_kernel(bwd_args p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  constexpr int pitch = D + 8;
  constexpr int ds_pitch = block_cols + 8;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  auto* ks = reinterpret_cast<std::uint16_t*>(smem_raw);
  std::uint16_t* vs = ks + block_rows * pitch;
  std::uint16_t* qs = vs + block_rows * pitch;
  std::uint16_t* dos = qs + block_cols * pitch;
  std::uint16_t* dss = dos + block_cols * pitch;  // dS^T: (64 keys, 64 queries)
  auto* lse_s = reinterpret_cast<float*>(dss + block_rows * ds_pitch);
  float* delta_s = lse_s + 64;
  auto* docq_s = reinterpret_cast<std::int32_t*>(delta_s + 64);
  std::int32_t* dock_s = docq_s + 64;

  const seq_info s = load_seq(p.cu_q, p.cu_k, static_cast<int>(blockIdx.z));
  const int k0 = static_cast<int>(blockIdx.x) * block_rows;
  if (k0 >= s.k_len) return;
  const int kvh = static_cast<int>(blockIdx.y);
  const int group = p.heads / p.kv_heads;
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, t = lane % 4;
  const bool by_doc = p.docs != nullptr;

  const long long q_ld = static_cast<long long>(p.heads) * D;
  const long long kv_ld = static_cast<long long>(p.kv_heads) * D;
  const long long kv_off = (static_cast<long long>(s.k_start) + k0) * kv_ld + static_cast<long long>(kvh) * D;

  load_tile<D>(ks, p.k + kv_off, kv_ld, s.k_len - k0, tid);
  load_tile<D>(vs, p.v + kv_off, kv_ld, s.k_len - k0, tid);
  cp_async_commit();
  if (by_doc && tid < 64) dock_s[tid] = k0 + tid < s.k_len ? p.docs[s.k_start + k0 + tid] : -1;

  int key[2];
  key[0] = k0 + warp * 16 + g;
  key[1] = key[0] + 8;

  float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) {
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[n][e] = dv[n][e] = 0.0f;
  }

  // Query blocks that can see some key of this block.
  const int q_first = p.causal ? max(0, k0 - s.offset) : 0;
  const int m_begin = q_first / block_cols;
  const int m_end = (s.q_len + block_cols - 1) / block_cols;

  for (int hh = 0; hh < group; ++hh) {
    const int h = kvh * group + hh;
    for (int m = m_begin; m < m_end; ++m) {
      const int q0 = m * block_cols;
      __syncthreads();  // the previous step is done with qs, dos, dss and the row data
      const long long q_off = (static_cast<long long>(s.q_start) + q0) * q_ld + static_cast<long long>(h) * D;
      load_tile<D>(qs, p.q + q_off, q_ld, s.q_len - q0, tid);
      load_tile<D>(dos, p.dout + q_off, q_ld, s.q_len - q0, tid);
      cp_async_commit();
      if (tid < 64) {
        const int qi = q0 + tid;
        const bool valid = qi < s.q_len;
        const long long r = (static_cast<long long>(s.q_start) + qi) * p.heads + h;
        lse_s[tid] = valid ? lse_log2(p.lse[r]) : INFINITY;
        delta_s[tid] = valid ? p.delta[r] : 0.0f;
        if (by_doc) docq_s[tid] = valid ? query_doc(p.docs, s, qi) : -1;
      }
      cp_async_wait<0>();
      __syncthreads();

      // S^T = K Q^T and dP^T = V dO^T: this warp's 16 keys x 64 queries.
      float st[8][4], dpt[8][4];
#pragma unroll
      for (int n = 0; n < 8; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) st[n][e] = dpt[n][e] = 0.0f;
      }
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        std::uint32_t ak[4], av[4];
        load_a(ak, ks, pitch, warp * 16, kk * 16, lane);
        load_a(av, vs, pitch, warp * 16, kk * 16, lane);
#pragma unroll
        for (int np = 0; np < 4; ++np) {
          std::uint32_t b[4];
          load_b_nk(b, qs, pitch, np * 16, kk * 16, lane);
          mma(st[2 * np], ak, b[0], b[1]);
          mma(st[2 * np + 1], ak, b[2], b[3]);
          load_b_nk(b, dos, pitch, np * 16, kk * 16, lane);
          mma(dpt[2 * np], av, b[0], b[1]);
          mma(dpt[2 * np + 1], av, b[2], b[3]);
        }
      }

      // P^T and dS^T = P^T (dP^T - D), element (key row r, query column n * 8 + 2t + e % 2).
      const bool need_mask = tile_needs_mask(q0, k0, s, p.causal, by_doc);
#pragma unroll
      for (int n = 0; n < 8; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2, ql = n * 8 + 2 * t + (e % 2);
          float pv = exp2f(fmaf(st[n][e], p.scale_log2, -lse_s[ql]));
          if (need_mask) {
            const int doc_q = by_doc ? docq_s[ql] : 0;
            const int doc_k = by_doc ? dock_s[key[r] - k0] : 0;
            if (!visible(q0 + ql, key[r], s, p.causal, by_doc, doc_q, doc_k)) pv = 0.0f;
          }
          st[n][e] = pv;
          dpt[n][e] = pv * (dpt[n][e] - delta_s[ql]);
        }
      }

      // dV += P^T dO, dK += dS^T Q (k index: the 64 queries, 4 steps of 16).
#pragma unroll
      for (int kt = 0; kt < block_cols / 16; ++kt) {
        std::uint32_t ap[4], ads[4];
        ap[0] = pack_bf16(st[2 * kt][0], st[2 * kt][1]);
        ap[1] = pack_bf16(st[2 * kt][2], st[2 * kt][3]);
        ap[2] = pack_bf16(st[2 * kt + 1][0], st[2 * kt + 1][1]);
        ap[3] = pack_bf16(st[2 * kt + 1][2], st[2 * kt + 1][3]);
        ads[0] = pack_bf16(dpt[2 * kt][0], dpt[2 * kt][1]);
        ads[1] = pack_bf16(dpt[2 * kt][2], dpt[2 * kt][3]);
        ads[2] = pack_bf16(dpt[2 * kt + 1][0], dpt[2 * kt + 1][1]);
        ads[3] = pack_bf16(dpt[2 * kt + 1][2], dpt[2 * kt + 1][3]);
        if constexpr (atomic_dq) {
          // dS^T rows (keys) g and g + 8 of this warp, query columns of n-tiles 2kt, 2kt + 1.
          std::uint16_t* row0 = dss + (warp * 16 + g) * ds_pitch + kt * 16 + 2 * t;
          std::uint16_t* row1 = row0 + 8 * ds_pitch;
          *reinterpret_cast<std::uint32_t*>(row0) = ads[0];
          *reinterpret_cast<std::uint32_t*>(row1) = ads[1];
          *reinterpret_cast<std::uint32_t*>(row0 + 8) = ads[2];
          *reinterpret_cast<std::uint32_t*>(row1 + 8) = ads[3];
        }
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          std::uint32_t b[4];
          load_b_kn(b, dos, pitch, kt * 16, dp * 16, lane);
          mma(dv[2 * dp], ap, b[0], b[1]);
          mma(dv[2 * dp + 1], ap, b[2], b[3]);
          load_b_kn(b, qs, pitch, kt * 16, dp * 16, lane);
          mma(dk[2 * dp], ads, b[0], b[1]);
          mma(dk[2 * dp + 1], ads, b[2], b[3]);
        }
      }

      if constexpr (atomic_dq) {
        __syncthreads();  // dS^T of all 64 keys is in shared memory
        // dQ of queries warp * 16 .. + 16 += dS K, with A[m = query][k = key] = dS^T[key][query].
        std::uint32_t af[block_rows / 16][4];
#pragma unroll
        for (int kt = 0; kt < block_rows / 16; ++kt) load_a_trans(af[kt], dss, ds_pitch, warp * 16, kt * 16, lane);
        int qrow[2];
        qrow[0] = q0 + warp * 16 + g;
        qrow[1] = qrow[0] + 8;
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          float c[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
          for (int kt = 0; kt < block_rows / 16; ++kt) {
            std::uint32_t b[4];
            load_b_kn(b, ks, pitch, kt * 16, dp * 16, lane);
            mma(c[0], af[kt], b[0], b[1]);
            mma(c[1], af[kt], b[2], b[3]);
          }
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            if (qrow[r] >= s.q_len) continue;
            float* dst = p.dq_acc + ((static_cast<long long>(s.q_start) + qrow[r]) * p.heads + h) * D + dp * 16 + 2 * t;
#pragma unroll
            for (int sub = 0; sub < 2; ++sub) {
              atomicAdd(dst + sub * 8, c[sub][2 * r]);
              atomicAdd(dst + sub * 8 + 1, c[sub][2 * r + 1]);
            }
          }
        }
      }
    }
  }

  cp_async_wait<0>();  // (only pending when no query block sees these keys)
  // dV and scale * dK of this warp's keys.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (key[r] >= s.k_len) continue;
    const long long off = (static_cast<long long>(s.k_start) + key[r]) * kv_ld + static_cast<long long>(kvh) * D;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      *reinterpret_cast<std::uint32_t*>(p.dv + off + n * 8 + 2 * t) = pack_bf16(dv[n][2 * r], dv[n][2 * r + 1]);
      *reinterpret_cast<std::uint32_t*>(p.dk + off + n * 8 + 2 * t) =
          pack_bf16(dk[n][2 * r] * p.scale, dk[n][2 * r + 1] * p.scale);
    }
  }
#endif
}

// Variant 2 of the dK/dV pass: 128 keys per block, 8 warps (each owning 16
// keys, as in dkdv_kernel), so every Q and dO tile read from global memory
// serves twice as many keys, and dQ's atomics are issued once per 128 keys
// instead of per 64. Q, dO and the row data (lse, D, documents) of the next
// query block are copied into a second buffer while the current one is
// processed (one cp.async group in flight, waited at the top of each step).
// With causal masking, a warp whose keys no query of the step sees skips
// the step's products (its P and dS are all zero).
constexpr int v2_key_warps = 8;
constexpr int v2_threads = v2_key_warps * 32;
constexpr int v2_keys = v2_key_warps * 16;

template <int D>
constexpr int dkdv_v2_smem_bytes() {
  // K, V (128 rows); Q, dO twice (64 rows); dS^T (128 x 64); lse, D, query documents twice; key documents.
  return (2 * v2_keys + 4 * block_cols) * (D + 8) * 2 + v2_keys * (block_cols + 8) * 2 + 2 * 3 * block_cols * 4 +
         v2_keys * 4;
}

// Adds a and b to dst[0] and dst[1] (8-byte aligned, global memory): one
// float2 atomicAdd (atom.global.add.v2.f32, result unused) on sm_90, two
// scalar atomics before it.
__device__ __forceinline__ void atomic_add2(float* dst, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float2*>(dst), make_float2(a, b));
#else
  atomicAdd(dst, a);
  atomicAdd(dst + 1, b);
#endif
}

// v3 (flash_variant::v3) changes only the dQ product of the atomic mode:
// each warp stops its key loop after the last 16-key tile that its 16
// queries can see (causal) or that exists (sequence end), skips the atomics
// when it has no such tile, and adds pairs of adjacent columns with one
// vector reduction on sm_90. Warps that see no key of a step no longer
// write zeros into dS^T (no dQ warp reads those rows).
template <int D, bool atomic_dq, bool v3>
__global__ void __launch_bounds__(v2_threads) dkdv_v2_kernel(bwd_args p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  constexpr int pitch = D + 8;
  constexpr int ds_pitch = block_cols + 8;
  constexpr int nt = v2_threads;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  auto* ks = reinterpret_cast<std::uint16_t*>(smem_raw);
  std::uint16_t* vs = ks + v2_keys * pitch;
  std::uint16_t* qbuf = vs + v2_keys * pitch;  // Q of buffer b at qbuf + b * 64 * pitch
  std::uint16_t* dobuf = qbuf + 2 * block_cols * pitch;
  std::uint16_t* dss = dobuf + 2 * block_cols * pitch;                           // dS^T: (128 keys, 64 queries)
  auto* lse_buf = reinterpret_cast<float*>(dss + v2_keys * ds_pitch);            // [2][64]
  float* delta_buf = lse_buf + 2 * block_cols;                                   // [2][64]
  auto* docq_buf = reinterpret_cast<std::int32_t*>(delta_buf + 2 * block_cols);  // [2][64]
  std::int32_t* dock_s = docq_buf + 2 * block_cols;                              // [128]

  const seq_info s = load_seq(p.cu_q, p.cu_k, static_cast<int>(blockIdx.z));
  const int k0 = static_cast<int>(blockIdx.x) * v2_keys;
  if (k0 >= s.k_len) return;
  const int kvh = static_cast<int>(blockIdx.y);
  const int group = p.heads / p.kv_heads;
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, t = lane % 4;
  const bool by_doc = p.docs != nullptr;

  const long long q_ld = static_cast<long long>(p.heads) * D;
  const long long kv_ld = static_cast<long long>(p.kv_heads) * D;
  const long long kv_off = (static_cast<long long>(s.k_start) + k0) * kv_ld + static_cast<long long>(kvh) * D;

  // Query blocks that can see some key of this block; steps run over (head of the group, query block).
  const int q_first = p.causal ? max(0, k0 - s.offset) : 0;
  const int m_begin = q_first / block_cols;
  const int m_count = max(0, (s.q_len + block_cols - 1) / block_cols - m_begin);
  const int steps = group * m_count;

  // Copies step `it`'s Q and dO (cp.async) and row data (plain stores) into buffer b.
  const auto fetch = [&](int it, int b) {
    const int h = kvh * group + it / m_count;
    const int q0 = (m_begin + it % m_count) * block_cols;
    const long long q_off = (static_cast<long long>(s.q_start) + q0) * q_ld + static_cast<long long>(h) * D;
    load_tile<D, block_cols, nt>(qbuf + b * block_cols * pitch, p.q + q_off, q_ld, s.q_len - q0, tid);
    load_tile<D, block_cols, nt>(dobuf + b * block_cols * pitch, p.dout + q_off, q_ld, s.q_len - q0, tid);
    if (tid < block_cols) {
      const int qi = q0 + tid;
      const bool valid = qi < s.q_len;
      const long long r = (static_cast<long long>(s.q_start) + qi) * p.heads + h;
      lse_buf[b * block_cols + tid] = valid ? lse_log2(p.lse[r]) : INFINITY;
      delta_buf[b * block_cols + tid] = valid ? p.delta[r] : 0.0f;
      if (by_doc) docq_buf[b * block_cols + tid] = valid ? query_doc(p.docs, s, qi) : -1;
    }
  };

  load_tile<D, v2_keys, nt>(ks, p.k + kv_off, kv_ld, s.k_len - k0, tid);
  load_tile<D, v2_keys, nt>(vs, p.v + kv_off, kv_ld, s.k_len - k0, tid);
  if (by_doc && tid < v2_keys) dock_s[tid] = k0 + tid < s.k_len ? p.docs[s.k_start + k0 + tid] : -1;
  if (steps > 0) fetch(0, 0);
  cp_async_commit();

  int key[2];
  key[0] = k0 + warp * 16 + g;
  key[1] = key[0] + 8;

  float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) {
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[n][e] = dv[n][e] = 0.0f;
  }

  for (int it = 0; it < steps; ++it) {
    const int b = it & 1;
    const int h = kvh * group + it / m_count;
    const int q0 = (m_begin + it % m_count) * block_cols;
    cp_async_wait<0>();
    // Step it's tiles have landed and are visible; every warp is done with
    // step it - 1 (its buffer, b ^ 1, and dS^T may be overwritten).
    __syncthreads();
    if (it + 1 < steps) {
      fetch(it + 1, b ^ 1);
      cp_async_commit();
    }
    const std::uint16_t* qs = qbuf + b * block_cols * pitch;
    const std::uint16_t* dos = dobuf + b * block_cols * pitch;
    const float* lse_s = lse_buf + b * block_cols;
    const float* delta_s = delta_buf + b * block_cols;
    const std::int32_t* docq_s = docq_buf + b * block_cols;

    // Causal: a warp whose first key is past every key this query block sees
    // has P = dS = 0 in this step; it skips its products (and writes zeros to
    // its rows of dS^T for the dQ product).
    const bool warp_sees = !p.causal || k0 + warp * 16 <= min(q0 + block_cols, s.q_len) - 1 + s.offset;
    if (warp_sees) {
      // S^T = K Q^T and dP^T = V dO^T: this warp's 16 keys x 64 queries.
      float st[8][4], dpt[8][4];
#pragma unroll
      for (int n = 0; n < 8; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) st[n][e] = dpt[n][e] = 0.0f;
      }
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        std::uint32_t ak[4], av[4];
        load_a(ak, ks, pitch, warp * 16, kk * 16, lane);
        load_a(av, vs, pitch, warp * 16, kk * 16, lane);
#pragma unroll
        for (int np = 0; np < 4; ++np) {
          std::uint32_t bf[4];
          load_b_nk(bf, qs, pitch, np * 16, kk * 16, lane);
          mma(st[2 * np], ak, bf[0], bf[1]);
          mma(st[2 * np + 1], ak, bf[2], bf[3]);
          load_b_nk(bf, dos, pitch, np * 16, kk * 16, lane);
          mma(dpt[2 * np], av, bf[0], bf[1]);
          mma(dpt[2 * np + 1], av, bf[2], bf[3]);
        }
      }

      // P^T and dS^T = P^T (dP^T - D), element (key row r, query column n * 8 + 2t + e % 2).
      const bool need_mask = tile_needs_mask(q0, k0 + warp * 16, s, p.causal, by_doc, block_cols, 16);
#pragma unroll
      for (int n = 0; n < 8; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2, ql = n * 8 + 2 * t + (e % 2);
          float pv = exp2f(fmaf(st[n][e], p.scale_log2, -lse_s[ql]));
          if (need_mask) {
            const int doc_q = by_doc ? docq_s[ql] : 0;
            const int doc_k = by_doc ? dock_s[key[r] - k0] : 0;
            if (!visible(q0 + ql, key[r], s, p.causal, by_doc, doc_q, doc_k)) pv = 0.0f;
          }
          st[n][e] = pv;
          dpt[n][e] = pv * (dpt[n][e] - delta_s[ql]);
        }
      }

      // dV += P^T dO, dK += dS^T Q (k index: the 64 queries, 4 steps of 16).
#pragma unroll
      for (int kt = 0; kt < block_cols / 16; ++kt) {
        std::uint32_t ap[4], ads[4];
        ap[0] = pack_bf16(st[2 * kt][0], st[2 * kt][1]);
        ap[1] = pack_bf16(st[2 * kt][2], st[2 * kt][3]);
        ap[2] = pack_bf16(st[2 * kt + 1][0], st[2 * kt + 1][1]);
        ap[3] = pack_bf16(st[2 * kt + 1][2], st[2 * kt + 1][3]);
        ads[0] = pack_bf16(dpt[2 * kt][0], dpt[2 * kt][1]);
        ads[1] = pack_bf16(dpt[2 * kt][2], dpt[2 * kt][3]);
        ads[2] = pack_bf16(dpt[2 * kt + 1][0], dpt[2 * kt + 1][1]);
        ads[3] = pack_bf16(dpt[2 * kt + 1][2], dpt[2 * kt + 1][3]);
        if constexpr (atomic_dq) {
          // dS^T rows (keys) g and g + 8 of this warp, query columns of n-tiles 2kt, 2kt + 1.
          std::uint16_t* row0 = dss + (warp * 16 + g) * ds_pitch + kt * 16 + 2 * t;
          std::uint16_t* row1 = row0 + 8 * ds_pitch;
          *reinterpret_cast<std::uint32_t*>(row0) = ads[0];
          *reinterpret_cast<std::uint32_t*>(row1) = ads[1];
          *reinterpret_cast<std::uint32_t*>(row0 + 8) = ads[2];
          *reinterpret_cast<std::uint32_t*>(row1 + 8) = ads[3];
        }
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          std::uint32_t bf[4];
          load_b_kn(bf, dos, pitch, kt * 16, dp * 16, lane);
          mma(dv[2 * dp], ap, bf[0], bf[1]);
          mma(dv[2 * dp + 1], ap, bf[2], bf[3]);
          load_b_kn(bf, qs, pitch, kt * 16, dp * 16, lane);
          mma(dk[2 * dp], ads, bf[0], bf[1]);
          mma(dk[2 * dp + 1], ads, bf[2], bf[3]);
        }
      }
    } else if constexpr (atomic_dq && !v3) {
#pragma unroll
      for (int r = 0; r < 16; ++r) *reinterpret_cast<std::uint32_t*>(dss + (warp * 16 + r) * ds_pitch + 2 * lane) = 0u;
    }

    if constexpr (atomic_dq) {
      __syncthreads();  // dS^T of all 128 keys is in shared memory
      // dQ += dS K over the 128 keys: warp w takes queries (w % 4) * 16 .. + 16
      // and the half (w / 4) of the D columns; A[m = query][k = key] = dS^T[key][query].
      const int qw = (warp % 4) * 16, c0 = (warp / 4) * (D / 2);
      float c[D / 16][4];  // n-tiles of 8 over the warp's D / 2 columns
#pragma unroll
      for (int n = 0; n < D / 16; ++n) c[n][0] = c[n][1] = c[n][2] = c[n][3] = 0.0f;
      // v3: key tiles [0, kt_end) hold every key that these 16 queries see.
      int kt_end = v2_keys / 16;
      if constexpr (v3) {
        int last = s.k_len - 1;  // last key of the sequence, then of the warp's last query (causal)
        if (p.causal) last = min(last, min(q0 + qw + 15, s.q_len - 1) + s.offset);
        kt_end = last < k0 ? 0 : min(v2_keys / 16, (last - k0) / 16 + 1);
      }
#pragma unroll
      for (int kt = 0; kt < v2_keys / 16; ++kt) {
        if (v3 && kt >= kt_end) break;
        std::uint32_t af[4];
        load_a_trans(af, dss, ds_pitch, qw, kt * 16, lane);
#pragma unroll
        for (int dp = 0; dp < D / 32; ++dp) {
          std::uint32_t bf[4];
          load_b_kn(bf, ks, pitch, kt * 16, c0 + dp * 16, lane);
          mma(c[2 * dp], af, bf[0], bf[1]);
          mma(c[2 * dp + 1], af, bf[2], bf[3]);
        }
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int qrow = q0 + qw + g + 8 * r;
        if (qrow >= s.q_len || kt_end == 0) continue;
        float* dst = p.dq_acc + ((static_cast<long long>(s.q_start) + qrow) * p.heads + h) * D + c0 + 2 * t;
#pragma unroll
        for (int n = 0; n < D / 16; ++n) {
          if constexpr (v3) {
            atomic_add2(dst + n * 8, c[n][2 * r], c[n][2 * r + 1]);
          } else {
            atomicAdd(dst + n * 8, c[n][2 * r]);
            atomicAdd(dst + n * 8 + 1, c[n][2 * r + 1]);
          }
        }
      }
    }
  }

  cp_async_wait<0>();  // (only pending when no query block sees these keys)
  // dV and scale * dK of this warp's keys.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (key[r] >= s.k_len) continue;
    const long long off = (static_cast<long long>(s.k_start) + key[r]) * kv_ld + static_cast<long long>(kvh) * D;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      *reinterpret_cast<std::uint32_t*>(p.dv + off + n * 8 + 2 * t) = pack_bf16(dv[n][2 * r], dv[n][2 * r + 1]);
      *reinterpret_cast<std::uint32_t*>(p.dk + off + n * 8 + 2 * t) =
          pack_bf16(dk[n][2 * r] * p.scale, dk[n][2 * r + 1] * p.scale);
    }
  }
#endif
}

template <int D>
constexpr int dq_smem_bytes() {
  return 4 * block_rows * (D + 8) * 2 + block_cols * 4;
}

// Deterministic dQ: per (query block, head, sequence), over the visible key blocks.
template <int D>
__global__ void __launch_bounds__(threads) dq_kernel(bwd_args p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  constexpr int pitch = D + 8;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  auto* qs = reinterpret_cast<std::uint16_t*>(smem_raw);
  std::uint16_t* dos = qs + block_rows * pitch;
  std::uint16_t* ks = dos + block_rows * pitch;
  std::uint16_t* vs = ks + block_cols * pitch;
  auto* doc_ks = reinterpret_cast<std::int32_t*>(vs + block_cols * pitch);

  const seq_info s = load_seq(p.cu_q, p.cu_k, static_cast<int>(blockIdx.z));
  const int q0 = static_cast<int>(gridDim.x - 1 - blockIdx.x) * block_rows;
  if (q0 >= s.q_len) return;
  const int h = static_cast<int>(blockIdx.y);
  const int kvh = h / (p.heads / p.kv_heads);
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, t = lane % 4;
  const bool by_doc = p.docs != nullptr;

  const long long q_ld = static_cast<long long>(p.heads) * D;
  const long long kv_ld = static_cast<long long>(p.kv_heads) * D;
  const long long q_off = (static_cast<long long>(s.q_start) + q0) * q_ld + static_cast<long long>(h) * D;
  const long long kv_base = static_cast<long long>(s.k_start) * kv_ld + static_cast<long long>(kvh) * D;

  int k_end = s.k_len;
  if (p.causal) k_end = min(k_end, min(s.q_len, q0 + block_rows) + s.offset);
  const int n_blocks = k_end > 0 ? (k_end + block_cols - 1) / block_cols : 0;

  load_tile<D>(qs, p.q + q_off, q_ld, s.q_len - q0, tid);
  load_tile<D>(dos, p.dout + q_off, q_ld, s.q_len - q0, tid);
  cp_async_commit();

  int row[2], doc_q[2] = {0, 0};
  float lse2[2], delta[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row[r] = q0 + warp * 16 + g + r * 8;
    const bool valid = row[r] < s.q_len;
    const long long idx = (static_cast<long long>(s.q_start) + row[r]) * p.heads + h;
    lse2[r] = valid ? lse_log2(p.lse[idx]) : INFINITY;
    delta[r] = valid ? p.delta[idx] : 0.0f;
    if (by_doc) doc_q[r] = query_doc(p.docs, s, row[r]);
  }
  float acc[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;

  for (int j = 0; j < n_blocks; ++j) {
    const int k0 = j * block_cols;
    __syncthreads();
    load_tile<D>(ks, p.k + kv_base + static_cast<long long>(k0) * kv_ld, kv_ld, s.k_len - k0, tid);
    load_tile<D>(vs, p.v + kv_base + static_cast<long long>(k0) * kv_ld, kv_ld, s.k_len - k0, tid);
    cp_async_commit();
    if (by_doc && tid < block_cols) doc_ks[tid] = k0 + tid < s.k_len ? p.docs[s.k_start + k0 + tid] : -1;
    cp_async_wait<0>();
    __syncthreads();

    float sc[8][4], dpv[8][4];
#pragma unroll
    for (int n = 0; n < 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) sc[n][e] = dpv[n][e] = 0.0f;
    }
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      std::uint32_t aq[4], ado[4];
      load_a(aq, qs, pitch, warp * 16, kk * 16, lane);
      load_a(ado, dos, pitch, warp * 16, kk * 16, lane);
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        std::uint32_t b[4];
        load_b_nk(b, ks, pitch, np * 16, kk * 16, lane);
        mma(sc[2 * np], aq, b[0], b[1]);
        mma(sc[2 * np + 1], aq, b[2], b[3]);
        load_b_nk(b, vs, pitch, np * 16, kk * 16, lane);
        mma(dpv[2 * np], ado, b[0], b[1]);
        mma(dpv[2 * np + 1], ado, b[2], b[3]);
      }
    }

    const bool need_mask = tile_needs_mask(q0, k0, s, p.causal, by_doc);
#pragma unroll
    for (int n = 0; n < 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e / 2, kl = n * 8 + 2 * t + (e % 2);
        float pv = exp2f(fmaf(sc[n][e], p.scale_log2, -lse2[r]));
        if (need_mask) {
          const int doc_k = by_doc ? doc_ks[kl] : 0;
          if (!visible(row[r], k0 + kl, s, p.causal, by_doc, doc_q[r], doc_k)) pv = 0.0f;
        }
        sc[n][e] = pv * (dpv[n][e] - delta[r]);  // dS
      }
    }

    // dQ += dS K (k index: the 64 keys).
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
        load_b_kn(b, ks, pitch, kt * 16, dp * 16, lane);
        mma(acc[2 * dp], a, b[0], b[1]);
        mma(acc[2 * dp + 1], a, b[2], b[3]);
      }
    }
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (row[r] >= s.q_len) continue;
    std::uint16_t* out = p.dq + (static_cast<long long>(s.q_start) + row[r]) * q_ld + static_cast<long long>(h) * D;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      *reinterpret_cast<std::uint32_t*>(out + n * 8 + 2 * t) =
          pack_bf16(acc[n][2 * r] * p.scale, acc[n][2 * r + 1] * p.scale);
    }
  }
#endif
}

unsigned elementwise_blocks(long long work, int per_block) {
  const long long b = (work + per_block - 1) / per_block;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65536 ? 65536 : b));
}

template <int D>
void launch_bwd(const flash_attention_backward_params& prm, cudaStream_t stream) {
  const flash_attention_params& f = prm.fwd;
  bwd_args a{};
  a.q = reinterpret_cast<const std::uint16_t*>(f.q);
  a.k = reinterpret_cast<const std::uint16_t*>(f.k);
  a.v = reinterpret_cast<const std::uint16_t*>(f.v);
  a.o = reinterpret_cast<const std::uint16_t*>(f.o);
  a.dout = reinterpret_cast<const std::uint16_t*>(prm.dout);
  a.lse = f.lse;
  a.delta = static_cast<float*>(prm.workspace);
  a.dq_acc = prm.deterministic ? nullptr : a.delta + delta_floats(prm.total_q, f.heads);
  a.dq = reinterpret_cast<std::uint16_t*>(prm.dq);
  a.dk = reinterpret_cast<std::uint16_t*>(prm.dk);
  a.dv = reinterpret_cast<std::uint16_t*>(prm.dv);
  a.cu_q = f.cu_seqlens_q;
  a.cu_k = f.cu_seqlens_k;
  a.docs = f.documents;
  a.heads = f.heads;
  a.kv_heads = f.kv_heads;
  a.total_q = prm.total_q;
  a.scale = f.scale;
  a.scale_log2 = f.scale * log2e;
  a.causal = f.causal;

  const long long rows = static_cast<long long>(prm.total_q) * f.heads;
  if (rows > 0) {
    delta_kernel<D><<<elementwise_blocks(rows, 8), 256, 0, stream>>>(a);
    check(cudaGetLastError(), "flash delta_kernel<<<...>>>", __FILE__, __LINE__);
  }
  if (!prm.deterministic && rows > 0) {
    LSK_CUDA_CHECK(cudaMemsetAsync(a.dq_acc, 0, static_cast<std::size_t>(rows) * D * sizeof(float), stream));
  }

  const int max_k = f.max_seqlen_k > 0 ? f.max_seqlen_k : f.max_seqlen_q;
  // v2's dK/dV pass needs 156 KiB of shared memory per block at D = 128
  // (sm_80 and sm_90 have it; sm_86 and sm_89 do not): fall back to v1 there.
  bool v2 = f.variant != flash_variant::v1;
  const bool v3 = f.variant == flash_variant::v3 || f.variant == flash_variant::automatic;
  if (v2 && max_k > 0) {
    int device = 0, optin = 0;
    LSK_CUDA_CHECK(cudaGetDevice(&device));
    LSK_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    v2 = optin >= dkdv_v2_smem_bytes<D>();
  }
  if (max_k > 0 && v2) {
    constexpr int smem = dkdv_v2_smem_bytes<D>();
    const dim3 grid(static_cast<unsigned>((max_k + v2_keys - 1) / v2_keys), static_cast<unsigned>(f.kv_heads),
                    static_cast<unsigned>(f.batch));
    // (v3 differs from v2 only in the atomic mode.)
    if (prm.deterministic) {
      LSK_CUDA_CHECK(
          cudaFuncSetAttribute(dkdv_v2_kernel<D, false, false>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      dkdv_v2_kernel<D, false, false><<<grid, v2_threads, smem, stream>>>(a);
    } else if (v3) {
      LSK_CUDA_CHECK(
          cudaFuncSetAttribute(dkdv_v2_kernel<D, true, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      dkdv_v2_kernel<D, true, true><<<grid, v2_threads, smem, stream>>>(a);
    } else {
      LSK_CUDA_CHECK(
          cudaFuncSetAttribute(dkdv_v2_kernel<D, true, false>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      dkdv_v2_kernel<D, true, false><<<grid, v2_threads, smem, stream>>>(a);
    }
    check(cudaGetLastError(), "flash dkdv_v2_kernel<<<...>>>", __FILE__, __LINE__);
  } else if (max_k > 0) {
    constexpr int smem = dkdv_smem_bytes<D>();
    const dim3 grid(static_cast<unsigned>((max_k + block_rows - 1) / block_rows), static_cast<unsigned>(f.kv_heads),
                    static_cast<unsigned>(f.batch));
    if (prm.deterministic) {
      LSK_CUDA_CHECK(cudaFuncSetAttribute(dkdv_kernel<D, false>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      dkdv_kernel<D, false><<<grid, threads, smem, stream>>>(a);
    } else {
      LSK_CUDA_CHECK(cudaFuncSetAttribute(dkdv_kernel<D, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      dkdv_kernel<D, true><<<grid, threads, smem, stream>>>(a);
    }
    check(cudaGetLastError(), "flash dkdv_kernel<<<...>>>", __FILE__, __LINE__);
  }

  if (prm.deterministic && f.max_seqlen_q > 0) {
    constexpr int smem = dq_smem_bytes<D>();
    LSK_CUDA_CHECK(cudaFuncSetAttribute(dq_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    const dim3 grid(static_cast<unsigned>((f.max_seqlen_q + block_rows - 1) / block_rows),
                    static_cast<unsigned>(f.heads), static_cast<unsigned>(f.batch));
    dq_kernel<D><<<grid, threads, smem, stream>>>(a);
    check(cudaGetLastError(), "flash dq_kernel<<<...>>>", __FILE__, __LINE__);
  } else if (rows > 0) {
    const long long pairs = rows * D / 2;
    dq_convert_kernel<<<elementwise_blocks(pairs, 256), 256, 0, stream>>>(a.dq_acc, a.dq, pairs, f.scale);
    check(cudaGetLastError(), "flash dq_convert_kernel<<<...>>>", __FILE__, __LINE__);
  }
}

}  // namespace
}  // namespace flash

std::size_t flash_attention_backward_workspace_bytes(int total_q, int heads, int head_dim, bool deterministic) {
  if (total_q < 0 || heads < 0 || head_dim < 0) raise<shape_error>("flash attention workspace: negative size");
  std::size_t floats = flash::delta_floats(total_q, heads);
  if (!deterministic) {
    floats += static_cast<std::size_t>(total_q) * static_cast<std::size_t>(heads) * static_cast<std::size_t>(head_dim);
  }
  return floats * sizeof(float);
}

void flash_attention_backward(const flash_attention_backward_params& p, cudaStream_t stream) {
  const flash_attention_params& f = p.fwd;
  check_flash_attention_params(f, "cuda::flash_attention_backward");
  if (f.o == nullptr || f.lse == nullptr || p.dout == nullptr || p.dq == nullptr || p.dk == nullptr ||
      p.dv == nullptr) {
    raise<error>("cuda::flash_attention_backward: null o, lse, dout, dq, dk or dv");
  }
  if (p.total_q < 0) raise<shape_error>("cuda::flash_attention_backward: negative total_q");
  if (f.batch == 0 || (f.max_seqlen_q == 0 && f.max_seqlen_k == 0)) return;
  if (p.workspace == nullptr) raise<error>("cuda::flash_attention_backward: null workspace");
  if (f.head_dim == 64) {
    flash::launch_bwd<64>(p, stream);
  } else {
    flash::launch_bwd<128>(p, stream);
  }
}

}  // namespace lsk::cuda
