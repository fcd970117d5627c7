// lsk/attention/tiled.hpp: memory-efficient (flash-attention-style) causal
// grouped-query attention for host-memory backends, forward and backward.
//
// Layout (as lsk/attention/naive.hpp): q, out, dout, dq (batch * q_len, heads,
// head_dim); k, v, dk, dv (batch * k_len, kv_heads, head_dim); the saved
// log-sum-exp lse (batch * q_len, heads), i.e. (token, head) -> token * heads + head.
// Query head h reads kv head h / (heads / kv_heads).
//
// Algorithm (forward). Work items are (sequence, kv head, query tile); a query
// tile is `tile_tokens` tokens times the `group` query heads that share one kv
// head, packed into an (M = tokens * group, head_dim) block so that K and V
// are read once per group and never copied per query head. For each key tile
// of `key_tile` keys that the tile can see: S = (scale Q) K^T (M x keys, an
// Eigen GEMM), masked entries dropped, and the online softmax update
//   m' = max(m, rowmax S);  P = exp(S - m');  l' = l exp(m - m') + rowsum P;
//   O' = O exp(m - m') + P V
// so the (q_len x k_len) score matrix never exists; finally out = O / l and
// lse = m + log l. Key tiles entirely above the causal diagonal or (with
// document ids) entirely in other documents are skipped; fully visible tiles
// skip the mask test.
// Algorithm (backward). D = rowsum(dout * out) per (token, head) first (f64
// accumulation, stored in T). Work items are (sequence, kv head, key tile):
// each item keeps dK, dV of its key tile in registers-to-L2 sized buffers and
// walks the query tiles that see it, recomputing P = exp(S - lse) tile by tile:
//   dV += P^T dO;  dP = dO V^T;  dS = P (dP - D);  dK += dS^T (scale Q);
//   dQ_tile += scale dS K  (added to dq in key-tile order: a ticket per query
// tile admits key tile kt after kt - 1, so dq is bit-identical from run to run
// and for any thread count; items run in key-tile order, so the waits are short;
// tile_config::ordered_dq = false adds under per-tile locks instead).
// Memory: O(tiles) scratch per thread plus lse; linear in length.
// Numerics: everything in T (f32 in training) with Eigen's SIMD GEMM and
// vectorised exp, whose subnormal results (masked scores among them) are flushed
// to 0 (lsk/core/subnormal.hpp: they made this kernel ~19x slower on an Intel Xeon); the
// running max makes every exp argument <= 0; rows that see
// no key get out = 0, lse = -inf (only possible with offsets, in ring attention).
// Agreement with the naive attention: ~1e-6 relative in f32 (tests/unit/test_attention.cpp).
// Threads: OpenMP over work items (monotonic dynamic schedule: causal items differ in
// cost); the GEMMs inside run single-threaded.
// Speed: Eigen vectorises the tile products for the compiler's target, so build
// for the cpu (-march=native; LSK_NATIVE for lsk's programs): at the x86-64
// baseline they are SSE2, and at head dim 32 this kernel is then 2-4x slower than
// the naive attention, whose products OpenBLAS runs with AVX-512 (docs/PERFORMANCE.md).
// Benchmark: build with -DLSK_NATIVE=ON and run bench/cpu/bench_attention
// (bench/cpu/run_attention.sh prints the docs/PERFORMANCE.md table).
#pragma once

// GCC 12 with -march=native reports a false -Wmaybe-uninitialized inside its
// AVX-512 intrinsics when Eigen's packing, vectorised exp and max are inlined
// into this file's kernels (also when Eigen/Core is first included here).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "lsk/attention/mask.hpp"
#include "lsk/attention/naive.hpp"
#include "lsk/concepts/backend.hpp"
#include "lsk/core/error.hpp"
#include "lsk/core/subnormal.hpp"
#include "lsk/core/tensor_view.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace lsk::attention {

// Tile sizes of the tiled attention: query tokens per tile (times the group's
// heads gives the packed rows) and keys per tile. 256 x 256 measured best on
// the 2-core AVX-512 machine of docs/PERFORMANCE.md (1 thread, len 4096:
// 133 / 145 GFLOP/s fwd at head_dim 64 / 128 vs 123 / 130 with 128 x 128); the
// S and dP tiles (256 KiB each) stay in L2.
struct tile_config {
  index_t query_rows = 256;  // target packed rows (tokens * group) per query tile
  index_t key_tile = 256;
  // Backward: dq summed in key-tile order (bit-reproducible, the default), or
  // under a lock per query tile in whatever order items finish (not reproducible).
  bool ordered_dq = true;
};

// One run of keys seen by one run of queries, for `batch` sequences. Global
// token indices decide causality: key k_begin + j is visible to query
// q_begin + i iff k_begin + j <= q_begin + i (and, with document ids, when
// q_doc[i] == k_doc[j]). Strides are in elements; doc pointers advance by
// doc_batch_stride per sequence.
template <class T>
struct attention_block {
  index_t batch = 1, q_len = 0, k_len = 0, heads = 1, kv_heads = 1, head_dim = 0;
  index_t q_begin = 0, k_begin = 0;
  const T* q = nullptr;  // (batch, q_len, heads, head_dim), sequence stride q_batch_stride
  const T* k = nullptr;  // (batch, k_len, kv_heads, head_dim), sequence stride k_batch_stride
  const T* v = nullptr;
  index_t q_batch_stride = 0, k_batch_stride = 0;
  const std::int32_t* q_doc = nullptr;  // per query token, or null (plain causal)
  const std::int32_t* k_doc = nullptr;
  index_t q_doc_batch_stride = 0, k_doc_batch_stride = 0;
  T scale = T(1);

  index_t group() const { return heads / kv_heads; }
};

namespace tiled_detail {

template <class T>
using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using const_rows = Eigen::Map<const matrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

inline int thread_count() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Visibility of a (query tile, key tile) pair.
enum class visibility { none, full, partial };

template <class T>
struct tiling {
  const attention_block<T>& blk;
  index_t q_tokens, k_tokens, q_tiles, k_tiles;

  tiling(const attention_block<T>& b, const tile_config& cfg)
      : blk(b),
        q_tokens(std::max<index_t>(1, cfg.query_rows / b.group())),
        k_tokens(std::max<index_t>(1, cfg.key_tile)),
        q_tiles((b.q_len + q_tokens - 1) / q_tokens),
        k_tiles((b.k_len + k_tokens - 1) / k_tokens) {}

  index_t q0(index_t qt) const { return qt * q_tokens; }
  index_t q1(index_t qt) const { return std::min(blk.q_len, q0(qt) + q_tokens); }
  index_t k0(index_t kt) const { return kt * k_tokens; }
  index_t k1(index_t kt) const { return std::min(blk.k_len, k0(kt) + k_tokens); }

  visibility classify(index_t b, index_t qt, index_t kt) const {
    const index_t qa = blk.q_begin + q0(qt), qb = blk.q_begin + q1(qt) - 1;
    const index_t ka = blk.k_begin + k0(kt), kb = blk.k_begin + k1(kt) - 1;
    if (ka > qb) return visibility::none;
    bool full = kb <= qa;
    if (blk.q_doc != nullptr) {
      const std::int32_t* qd = blk.q_doc + b * blk.q_doc_batch_stride;
      const std::int32_t* kd = blk.k_doc + b * blk.k_doc_batch_stride;
      const std::int32_t d0 = qd[q0(qt)];
      bool q_uniform = true, k_uniform = true;
      for (index_t i = q0(qt); i < q1(qt) && q_uniform; ++i) q_uniform = qd[i] == d0;
      for (index_t j = k0(kt); j < k1(kt) && k_uniform; ++j) k_uniform = kd[j] == kd[k0(kt)];
      if (q_uniform && k_uniform && kd[k0(kt)] != d0) return visibility::none;
      full = full && q_uniform && k_uniform;
    }
    return full ? visibility::full : visibility::partial;
  }
};

// Packs rows of `group` heads starting at head h0 for tokens [t0, t1) of a
// (tokens, heads_total, d) array into a (tokens * group, d) block, times alpha.
template <class T>
void pack_rows(const T* x, index_t heads_total, index_t d, index_t h0, index_t group, index_t t0, index_t t1, T alpha,
               matrix<T>& dst) {
  dst.resize((t1 - t0) * group, d);
  for (index_t t = t0; t < t1; ++t) {
    const T* src = x + (t * heads_total + h0) * d;
    T* out = dst.data() + (t - t0) * group * d;
    for (index_t e = 0; e < group * d; ++e) out[e] = alpha * src[e];
  }
}

// Sets S entries of invisible (query, key) pairs to -inf. Row r is query token
// t0 + r / group.
template <class T>
void apply_mask(const attention_block<T>& blk, index_t b, index_t t0, index_t s0, index_t group, matrix<T>& s) {
  const index_t rows = s.rows(), cols = s.cols();
  const std::int32_t* qd = blk.q_doc ? blk.q_doc + b * blk.q_doc_batch_stride : nullptr;
  const std::int32_t* kd = blk.k_doc ? blk.k_doc + b * blk.k_doc_batch_stride : nullptr;
  for (index_t r = 0; r < rows; ++r) {
    const index_t t = t0 + r / group;
    // visible keys j: k_begin + s0 + j <= q_begin + t
    const index_t limit = std::clamp<index_t>(blk.q_begin + t - blk.k_begin - s0 + 1, 0, cols);
    T* row = s.data() + r * cols;
    for (index_t j = limit; j < cols; ++j) row[j] = minus_infinity<T>;
    if (qd != nullptr) {
      const std::int32_t doc = qd[t];
      for (index_t j = 0; j < limit; ++j)
        if (kd[s0 + j] != doc) row[j] = minus_infinity<T>;
    }
  }
}

// Per-query-tile locks for unordered dq accumulation (tile_config::ordered_dq false).
class lock_array {
 public:
  explicit lock_array(index_t n) : locks_(std::make_unique<std::mutex[]>(static_cast<std::size_t>(n))) {}
  std::mutex& operator[](index_t i) { return locks_[static_cast<std::size_t>(i)]; }

 private:
  std::unique_ptr<std::mutex[]> locks_;
};

// One ticket per query tile for ordered dq accumulation: the item of key tile
// kt may add to the query tile once its ticket reads kt, and then passes it to
// kt + 1, so the contributions are summed in key-tile order in every run and
// for any thread count. The wait spins (yielding): the item of kt - 1 was
// claimed earlier (monotonic schedule) and is running, so it always advances.
class ticket_array {
 public:
  explicit ticket_array(index_t n) : tickets_(std::make_unique<std::atomic<index_t>[]>(static_cast<std::size_t>(n))) {
    for (index_t i = 0; i < n; ++i) tickets_[static_cast<std::size_t>(i)].store(0, std::memory_order_relaxed);
  }
  void wait_for(index_t i, index_t turn) const {
    while (tickets_[static_cast<std::size_t>(i)].load(std::memory_order_acquire) != turn) std::this_thread::yield();
  }
  void pass(index_t i, index_t next_turn) {
    tickets_[static_cast<std::size_t>(i)].store(next_turn, std::memory_order_release);
  }

 private:
  std::unique_ptr<std::atomic<index_t>[]> tickets_;
};

}  // namespace tiled_detail

// Forward over one attention_block: writes out (batch, q_len, heads, head_dim)
// contiguous and lse (batch, q_len, heads) for these keys only (a query that
// sees none of them gets out = 0, lse = -inf).
template <class T>
void tiled_forward_block(const attention_block<T>& blk, T* out, T* lse, const tile_config& cfg = {}) {
  using namespace tiled_detail;
  const tiling<T> tl(blk, cfg);
  const index_t r = blk.group(), d = blk.head_dim, H = blk.heads, KH = blk.kv_heads;
  const index_t items = blk.batch * KH * tl.q_tiles;
  if (items == 0) return;
#if defined(_OPENMP)
#pragma omp parallel if (items > 1 && thread_count() > 1)
#endif
  {
    matrix<T> qp, s, o;
    std::vector<T> m, l;
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
    for (index_t item = 0; item < items; ++item) {
      // Most expensive (last) query tiles first.
      const index_t qt = tl.q_tiles - 1 - item % tl.q_tiles;
      const index_t g = (item / tl.q_tiles) % KH, b = item / (tl.q_tiles * KH);
      const index_t t0 = tl.q0(qt), t1 = tl.q1(qt), rows = (t1 - t0) * r;
      pack_rows(blk.q + b * blk.q_batch_stride, H, d, g * r, r, t0, t1, blk.scale, qp);
      o.setZero(rows, d);
      m.assign(static_cast<std::size_t>(rows), minus_infinity<T>);
      l.assign(static_cast<std::size_t>(rows), T(0));
      for (index_t kt = 0; kt < tl.k_tiles; ++kt) {
        const visibility vis = tl.classify(b, qt, kt);
        if (vis == visibility::none) continue;
        const index_t s0 = tl.k0(kt), nk = tl.k1(kt) - s0;
        const const_rows<T> kmat(blk.k + b * blk.k_batch_stride + (s0 * KH + g) * d, nk, d,
                                 Eigen::OuterStride<>(KH * d));
        const const_rows<T> vmat(blk.v + b * blk.k_batch_stride + (s0 * KH + g) * d, nk, d,
                                 Eigen::OuterStride<>(KH * d));
        s.resize(rows, nk);
        s.noalias() = qp * kmat.transpose();
        if (vis == visibility::partial) apply_mask(blk, b, t0, s0, r, s);
        for (index_t i = 0; i < rows; ++i) {
          auto row = s.row(i).array();
          const T tile_max = row.maxCoeff();
          const auto iu = static_cast<std::size_t>(i);
          const T new_max = std::max(m[iu], tile_max);
          if (new_max == minus_infinity<T>) {  // nothing visible in this row yet
            row.setZero();
            continue;
          }
          const T alpha = std::exp(m[iu] - new_max);  // 0 when m was -inf
          row = (row - new_max).exp();
          flush_subnormal_exp(s.data() + i * s.cols(), s.cols());  // masked scores -> exactly 0
          l[iu] = l[iu] * alpha + row.sum();
          if (alpha != T(1)) o.row(i) *= alpha;
          m[iu] = new_max;
        }
        o.noalias() += s * vmat;
      }
      for (index_t i = 0; i < rows; ++i) {
        const index_t t = t0 + i / r, h = g * r + i % r;
        const auto iu = static_cast<std::size_t>(i);
        T* dst = out + ((b * blk.q_len + t) * H + h) * d;
        const T inv = l[iu] > T(0) ? T(1) / l[iu] : T(0);
        for (index_t e = 0; e < d; ++e) dst[e] = o(i, e) * inv;
        lse[(b * blk.q_len + t) * H + h] = l[iu] > T(0) ? m[iu] + std::log(l[iu]) : minus_infinity<T>;
      }
    }
  }
}

// D = rowsum(dout * out) per (token, head): (tokens, heads), f64 accumulation.
template <class T>
void attention_row_dot(const T* dout, const T* out, index_t tokens, index_t heads, index_t d, T* dst) {
  const index_t rows = tokens * heads;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (rows * d > (1 << 15))
#endif
  for (index_t i = 0; i < rows; ++i) {
    double acc = 0;
    for (index_t e = 0; e < d; ++e) acc += static_cast<double>(dout[i * d + e]) * static_cast<double>(out[i * d + e]);
    dst[i] = static_cast<T>(acc);
  }
}

// Backward over one attention_block given the final lse and D of every query
// (layout (batch, q_len, heads)); ACCUMULATES (+=) into dq (batch, q_len,
// heads, head_dim) and dk, dv (batch, k_len, kv_heads, head_dim), all contiguous.
template <class T>
void tiled_backward_block(const attention_block<T>& blk, const T* dout, const T* lse, const T* delta, T* dq, T* dk,
                          T* dv, const tile_config& cfg = {}) {
  using namespace tiled_detail;
  const tiling<T> tl(blk, cfg);
  const index_t r = blk.group(), d = blk.head_dim, H = blk.heads, KH = blk.kv_heads;
  const index_t items = blk.batch * KH * tl.k_tiles;
  if (items == 0) return;
  const index_t tile_count = std::max<index_t>(1, blk.batch * KH * tl.q_tiles);
  const bool ordered = cfg.ordered_dq;
  ticket_array tickets(ordered ? tile_count : 1);
  lock_array locks(ordered ? 1 : tile_count);
#if defined(_OPENMP)
#pragma omp parallel if (items > 1 && thread_count() > 1)
#endif
  {
    matrix<T> qp, dop, s, dp, dkt, dvt, dqt;
#if defined(_OPENMP)
#pragma omp for schedule(monotonic : dynamic, 1)
#endif
    for (index_t item = 0; item < items; ++item) {
      const index_t kt = item % tl.k_tiles;  // early key tiles see the most queries: first
      const index_t g = (item / tl.k_tiles) % KH, b = item / (tl.k_tiles * KH);
      const index_t s0 = tl.k0(kt), nk = tl.k1(kt) - s0;
      const const_rows<T> kmat(blk.k + b * blk.k_batch_stride + (s0 * KH + g) * d, nk, d, Eigen::OuterStride<>(KH * d));
      const const_rows<T> vmat(blk.v + b * blk.k_batch_stride + (s0 * KH + g) * d, nk, d, Eigen::OuterStride<>(KH * d));
      dkt.setZero(nk, d);
      dvt.setZero(nk, d);
      for (index_t qt = 0; qt < tl.q_tiles; ++qt) {
        const visibility vis = tl.classify(b, qt, kt);
        const index_t ticket = (b * KH + g) * tl.q_tiles + qt;
        if (vis == visibility::none) {
          if (ordered) {
            tickets.wait_for(ticket, kt);
            tickets.pass(ticket, kt + 1);
          }
          continue;
        }
        const index_t t0 = tl.q0(qt), t1 = tl.q1(qt), rows = (t1 - t0) * r;
        pack_rows(blk.q + b * blk.q_batch_stride, H, d, g * r, r, t0, t1, blk.scale, qp);
        pack_rows(dout + b * blk.q_len * H * d, H, d, g * r, r, t0, t1, T(1), dop);
        s.resize(rows, nk);
        s.noalias() = qp * kmat.transpose();
        if (vis == visibility::partial) apply_mask(blk, b, t0, s0, r, s);
        for (index_t i = 0; i < rows; ++i) {
          const T row_lse = lse[(b * blk.q_len + t0 + i / r) * H + g * r + i % r];
          if (row_lse == minus_infinity<T>) {
            s.row(i).setZero();
          } else {
            s.row(i).array() = (s.row(i).array() - row_lse).exp();
            flush_subnormal_exp(s.data() + i * nk, nk);
          }
        }
        dvt.noalias() += s.transpose() * dop;
        dp.resize(rows, nk);
        dp.noalias() = dop * vmat.transpose();
        for (index_t i = 0; i < rows; ++i) {
          const T di = delta[(b * blk.q_len + t0 + i / r) * H + g * r + i % r];
          s.row(i).array() *= dp.row(i).array() - di;  // s becomes dS
        }
        dkt.noalias() += s.transpose() * qp;
        dqt.resize(rows, d);
        dqt.noalias() = blk.scale * (s * kmat);
        const auto add_dq = [&] {
          for (index_t t = t0; t < t1; ++t) {
            T* dst = dq + ((b * blk.q_len + t) * H + g * r) * d;
            const T* src = dqt.data() + (t - t0) * r * d;
            for (index_t e = 0; e < r * d; ++e) dst[e] += src[e];
          }
        };
        if (ordered) {
          tickets.wait_for(ticket, kt);
          add_dq();
          tickets.pass(ticket, kt + 1);
        } else {
          std::lock_guard<std::mutex> guard(locks[ticket]);
          add_dq();
        }
      }
      for (index_t j = 0; j < nk; ++j) {
        T* dkd = dk + ((b * blk.k_len + s0 + j) * KH + g) * d;
        T* dvd = dv + ((b * blk.k_len + s0 + j) * KH + g) * d;
        for (index_t e = 0; e < d; ++e) {
          dkd[e] += dkt(j, e);
          dvd[e] += dvt(j, e);
        }
      }
    }
  }
}

namespace tiled_detail {
template <class T>
attention_block<T> block_of(const attention_shape& s, const attention_mask& mask, const T* q, const T* k, const T* v,
                            T scale) {
  attention_block<T> blk;
  blk.batch = s.batch;
  blk.q_len = s.q_len;
  blk.k_len = s.k_len;
  blk.heads = s.heads;
  blk.kv_heads = s.kv_heads;
  blk.head_dim = s.head_dim;
  blk.q_begin = s.k_len - s.q_len;  // bottom-right aligned, as the naive attention
  blk.k_begin = 0;
  blk.q = q;
  blk.k = k;
  blk.v = v;
  blk.q_batch_stride = s.q_len * s.heads * s.head_dim;
  blk.k_batch_stride = s.k_len * s.kv_heads * s.head_dim;
  if (mask.by_document()) {
    blk.q_doc = mask.documents.data() + (s.k_len - s.q_len);
    blk.k_doc = mask.documents.data();
    blk.q_doc_batch_stride = s.k_len;
    blk.k_doc_batch_stride = s.k_len;
  }
  blk.scale = scale;
  return blk;
}

template <class T>
void check_tiled(std::string_view op, const attention_shape& s, const attention_mask& mask,
                 std::initializer_list<std::pair<const char*, const tensor_view<const T>>> q_like,
                 std::initializer_list<std::pair<const char*, const tensor_view<const T>>> kv_like, index_t lse_size) {
  check_attention_shape(s);
  const shape qs{s.batch * s.q_len, s.heads, s.head_dim}, ks{s.batch * s.k_len, s.kv_heads, s.head_dim};
  for (const auto& [what, x] : q_like) {
    if (x.extents() != qs || !x.is_contiguous())
      raise<shape_error>(op, ": ", what, " must be contiguous ", qs.str(), ", got ", x.extents().str());
  }
  for (const auto& [what, x] : kv_like) {
    if (x.extents() != ks || !x.is_contiguous())
      raise<shape_error>(op, ": ", what, " must be contiguous ", ks.str(), ", got ", x.extents().str());
  }
  if (lse_size < s.batch * s.q_len * s.heads) {
    raise<shape_error>(op, ": lse holds ", lse_size,
                       " elements, needs batch * q_len * heads = ", s.batch * s.q_len * s.heads);
  }
  if (mask.by_document() && mask.documents.numel() != s.batch * s.k_len) {
    raise<shape_error>(op, ": ", mask.documents.numel(), " document ids for ", s.batch, " x ", s.k_len, " keys");
  }
}
}  // namespace tiled_detail

// out (batch * q_len, heads, head_dim) and lse (batch * q_len * heads elements).
template <real_scalar T>
void tiled_forward(const attention_shape& s, const attention_mask& mask, const_view<T> q, const_view<T> k,
                   const_view<T> v, T scale, tensor_view<T> lse, tensor_view<T> out, const tile_config& cfg = {}) {
  tiled_detail::check_tiled<T>("tiled attention forward", s, mask, {{"q", q}, {"out", out}}, {{"k", k}, {"v", v}},
                               lse.numel());
  tiled_forward_block(tiled_detail::block_of(s, mask, q.data(), k.data(), v.data(), scale), out.data(), lse.data(),
                      cfg);
}

// Writes (overwrites) dq, dk, dv. delta: scratch of batch * q_len * heads elements.
template <real_scalar T>
void tiled_backward(const attention_shape& s, const attention_mask& mask, const_view<T> q, const_view<T> k,
                    const_view<T> v, const_view<T> out, const_view<T> lse, const_view<T> dout, T scale,
                    tensor_view<T> delta, tensor_view<T> dq, tensor_view<T> dk, tensor_view<T> dv,
                    const tile_config& cfg = {}) {
  tiled_detail::check_tiled<T>("tiled attention backward", s, mask,
                               {{"q", q}, {"out", out}, {"dout", dout}, {"dq", dq}},
                               {{"k", k}, {"v", v}, {"dk", dk}, {"dv", dv}}, std::min(lse.numel(), delta.numel()));
  std::fill(dq.data(), dq.data() + dq.numel(), T(0));
  std::fill(dk.data(), dk.data() + dk.numel(), T(0));
  std::fill(dv.data(), dv.data() + dv.numel(), T(0));
  attention_row_dot(dout.data(), out.data(), s.batch * s.q_len, s.heads, s.head_dim, delta.data());
  tiled_backward_block(tiled_detail::block_of(s, mask, q.data(), k.data(), v.data(), scale), dout.data(), lse.data(),
                       delta.data(), dq.data(), dk.data(), dv.data(), cfg);
}

// The tiled attention as an lsk::Attention (lsk/concepts/attention.hpp): the
// saved state is the log-sum-exp, the backward scratch D; both
// batch * q_len * heads elements, linear in length. Host-memory backends.
struct tiled_attention {
  static constexpr std::string_view name = "tiled";
  tile_config tiles{};

  index_t saved_size(const attention_shape& s) const { return s.batch * s.q_len * s.heads; }
  index_t scratch_size(const attention_shape& s) const { return s.batch * s.q_len * s.heads; }

  template <Backend B, real_scalar T>
  void forward(B&, const attention_shape& s, const attention_mask& mask, std::type_identity_t<const_view<T>> q,
               std::type_identity_t<const_view<T>> k, std::type_identity_t<const_view<T>> v,
               std::type_identity_t<T> scale, tensor_view<T> saved, tensor_view<T> out) const {
    static_assert(B::memory == memory_space::host, "the tiled attention runs on host memory");
    tiled_forward<T>(s, mask, q, k, v, scale, saved, out, tiles);
  }

  template <Backend B, real_scalar T>
  void backward(B&, const attention_shape& s, const attention_mask& mask, std::type_identity_t<const_view<T>> q,
                std::type_identity_t<const_view<T>> k, std::type_identity_t<const_view<T>> v,
                std::type_identity_t<const_view<T>> out, std::type_identity_t<const_view<T>> saved,
                std::type_identity_t<const_view<T>> dout, std::type_identity_t<T> scale, tensor_view<T> scratch,
                tensor_view<T> dq, tensor_view<T> dk, tensor_view<T> dv) const {
    static_assert(B::memory == memory_space::host, "the tiled attention runs on host memory");
    tiled_backward<T>(s, mask, q, k, v, out, saved, dout, scale, scratch, dq, dk, dv, tiles);
  }
};

}  // namespace lsk::attention

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
