// backends/cuda/src/flash_attention_common.cuh: device helpers shared by the
// flash-attention kernels (nvcc only, sm_80+ for the bf16 mma).
//
// Tensor-core tiles are mma.sync.m16n8k16 (bf16 in, f32 accumulate). With
// g = lane / 4 and t = lane % 4 (PTX ISA, "Matrix Fragments for mma.m16n8k16"):
//   A (16x16, 4 regs of 2 bf16): a0 (g, 2t..2t+1), a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..);
//   B (16x8, 2 regs):            b0 (k = 2t..2t+1, n = g), b1 (k = 2t+8.., n = g);
//   C (16x8 f32, 4 regs):        c0, c1 (g, 2t..2t+1), c2, c3 (g+8, 2t..2t+1).
// Lower element in the low 16 bits. Fragments are read from shared memory
// with ldmatrix (8x8 b16 matrices; lanes 8i..8i+7 give the row addresses of
// matrix i; lane l receives row l/4, columns 2(l%4)..+1 of each matrix, or
// with .trans the transposed element pair). Shared tiles are row-major with
// a pitch of (columns + 8) bf16, so that the 8 row addresses of one 8x8
// matrix fall in distinct bank groups and rows stay 16-byte aligned.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace lsk::cuda::flash {

constexpr int block_rows = 64;  // queries (forward, dq pass) or keys (dk/dv pass) per thread block
constexpr int block_cols = 64;  // keys (forward, dq pass) or queries (dk/dv pass) per inner step
constexpr int warps = 4;        // each warp owns 16 of the block's rows
constexpr int threads = warps * 32;
constexpr float log2e = 1.4426950408889634f;
constexpr float ln2 = 0.6931471805599453f;

// One sequence of the varlen batch, as seen by a thread block.
struct seq_info {
  int q_start, q_len, k_start, k_len;
  int offset;  // k_len - q_len: query i sees keys j <= i + offset when causal
};

__device__ __forceinline__ seq_info load_seq(const std::int32_t* cu_q, const std::int32_t* cu_k, int b) {
  seq_info s;
  s.q_start = cu_q[b];
  s.q_len = cu_q[b + 1] - s.q_start;
  if (cu_k == nullptr) {
    s.k_start = s.q_start;
    s.k_len = s.q_len;
  } else {
    s.k_start = cu_k[b];
    s.k_len = cu_k[b + 1] - s.k_start;
  }
  s.offset = s.k_len - s.q_len;
  return s;
}

__device__ __forceinline__ std::uint32_t smem_addr(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// D += A B for one 16x8x16 tile.
__device__ __forceinline__ void mma(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

// Two f32 -> one register of two bf16 (round to nearest even; lo in the low half).
__device__ __forceinline__ std::uint32_t pack_bf16(float lo, float hi) {
  std::uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

__device__ __forceinline__ float bf16_lo(std::uint32_t w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float bf16_hi(std::uint32_t w) { return __uint_as_float(w & 0xFFFF0000u); }

// --- fragment loads from a row-major shared tile X with `pitch` elements per row ---
// A (16x16) with A[m][k] = X[r0 + m][c0 + k].
__device__ __forceinline__ void load_a(std::uint32_t (&a)[4], const std::uint16_t* x, int pitch, int r0, int c0,
                                       int lane) {
  const int row = r0 + (lane & 7) + ((lane >> 3) & 1) * 8;
  const int col = c0 + (lane >> 4) * 8;
  ldmatrix_x4(a, smem_addr(x + row * pitch + col));
}

// A (16x16) with A[m][k] = X[k0 + k][m0 + m] (a transposed tile).
__device__ __forceinline__ void load_a_trans(std::uint32_t (&a)[4], const std::uint16_t* x, int pitch, int m0, int k0,
                                             int lane) {
  const int row = k0 + (lane & 7) + (lane >> 4) * 8;
  const int col = m0 + ((lane >> 3) & 1) * 8;
  ldmatrix_x4_trans(a, smem_addr(x + row * pitch + col));
}

// Two B tiles (16x8 each, n-tiles n0 and n0 + 8) with B[k][n] = X[n0 + n][k0 + k]
// (X holds the n index in rows, e.g. K for S = Q K^T): b[0], b[1] for n0; b[2], b[3] for n0 + 8.
__device__ __forceinline__ void load_b_nk(std::uint32_t (&b)[4], const std::uint16_t* x, int pitch, int n0, int k0,
                                          int lane) {
  const int row = n0 + (lane & 7) + (lane >> 4) * 8;
  const int col = k0 + ((lane >> 3) & 1) * 8;
  ldmatrix_x4(b, smem_addr(x + row * pitch + col));
}

// Two B tiles with B[k][n] = X[k0 + k][n0 + n] (X holds the k index in rows,
// e.g. V for O = P V): b[0], b[1] for n0; b[2], b[3] for n0 + 8.
__device__ __forceinline__ void load_b_kn(std::uint32_t (&b)[4], const std::uint16_t* x, int pitch, int k0, int n0,
                                          int lane) {
  const int row = k0 + (lane & 7) + ((lane >> 3) & 1) * 8;
  const int col = n0 + (lane >> 4) * 8;
  ldmatrix_x4_trans(b, smem_addr(x + row * pitch + col));
}

// --- global -> shared copies (cp.async, 16 bytes per request) ---
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  // src-size 0 writes 16 zero bytes without reading global memory.
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)),
               "l"(__cvta_generic_to_global(gmem)), "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Rows [0, ROWS) of the tile at `src` (rows `ld` elements apart, D columns)
// into shared memory (pitch D + 8), by NT threads; rows at or past `rows` are
// zero-filled (no global read). Thread tid copies columns 8 (tid % (D / 8))
// of rows tid / (D / 8) + i NT / (D / 8).
template <int D, int ROWS = block_rows, int NT = threads>
__device__ __forceinline__ void load_tile(std::uint16_t* dst, const std::uint16_t* src, long long ld, int rows,
                                          int tid) {
  constexpr int chunks_per_row = D / 8;
  constexpr int step = NT / chunks_per_row;  // rows covered by one pass of the NT threads
  static_assert(NT % chunks_per_row == 0 && ROWS % step == 0);
  const int r0 = tid / chunks_per_row, col = (tid % chunks_per_row) * 8;
  const std::uint16_t* g = src + r0 * ld + col;
#pragma unroll
  for (int i = 0; i < ROWS / step; ++i) {
    const int r = r0 + i * step;
    const bool valid = r < rows;
    cp_async16(dst + r * (D + 8) + col, valid ? g : src, valid);
    g += step * ld;
  }
}

// May key `key` be seen by query `query` (both local to the sequence)?
// doc_q: the document id of the query's token, doc_k: of the key.
__device__ __forceinline__ bool visible(int query, int key, const seq_info& s, bool causal, bool by_doc, int doc_q,
                                        int doc_k) {
  return query < s.q_len && key < s.k_len && (!causal || key <= query + s.offset) && (!by_doc || doc_q == doc_k);
}

// Does the tile of queries [q0, q0 + q_rows) x keys [k0, k0 + k_cols) need element-wise masking?
__device__ __forceinline__ bool tile_needs_mask(int q0, int k0, const seq_info& s, bool causal, bool by_doc,
                                                int q_rows = block_rows, int k_cols = block_cols) {
  return by_doc || q0 + q_rows > s.q_len || k0 + k_cols > s.k_len || (causal && k0 + k_cols - 1 > q0 + s.offset);
}

// The document id of query `query`'s own token (documents are indexed by the
// global key token). A query without a key token of its own (possible only
// when k_len < q_len, which document masking does not allow) reads -1.
__device__ __forceinline__ int query_doc(const std::int32_t* docs, const seq_info& s, int query) {
  const int j = query + s.offset;
  return (j >= 0 && j < s.k_len) ? docs[s.k_start + j] : -1;
}

}  // namespace lsk::cuda::flash
