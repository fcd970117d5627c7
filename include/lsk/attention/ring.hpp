// lsk/attention/ring.hpp: context parallelism, one sequence of seq_len tokens
// split over the P ranks of a communicator; causal ring attention with zigzag
// load balancing, forward and backward, on the tiled kernels (tiled.hpp).
//
// Sharding (zigzag): the sequence is cut into 2P chunks of c = seq_len / (2P)
// tokens; rank r holds chunks r and 2P-1-r, in that order, as its local
// (2c, heads, head_dim) q / out and (2c, kv_heads, head_dim) k / v. Under the
// causal mask every rank then has the same amount of work (an early chunk
// paired with a late one). zigzag_shard / zigzag_unshard convert.
// Forward: P steps; at step s rank r holds the (k, v) of rank (r - s) mod P,
// runs the tiled forward of its two query chunks against the two key chunks
// (pairs entirely above the diagonal are skipped), and merges each partial
// (out, lse) into its running result in T (f32 in training):
//   lse = log(exp(lse_a) + exp(lse_b));  out = out_a exp(lse_a - lse) + out_b exp(lse_b - lse)
// then passes (k, v) to rank r + 1 (send_recv, synchronous: no overlap of
// communication and compute in this version).
// Backward: D = rowsum(dout * out) locally; the block (k, v, dk, dv) travels
// around the ring and collects every rank's contribution to dk, dv while dq
// accumulates locally; after P shifts each block is home.
// Document masks: the global (seq_len) document ids are passed to every rank.
// Numerics: as tiled.hpp; results match the single-rank tiled attention to
// reassociation (tests/unit/test_dist.cpp, tests/dist/mpi_dist_test.cpp).
// Memory: host (the block buffers are std::vectors), so the communicator is a
// host one (threads, MPI); a device ring over NCCL belongs to the CUDA backend.
// Benchmark: bench/cpu/run_ring_mpi.sh (mpirun -np 1 and -np 2).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "lsk/attention/tiled.hpp"
#include "lsk/dist/communicator.hpp"

namespace lsk::attention {

struct ring_shape {
  index_t seq_len = 0, heads = 1, kv_heads = 1, head_dim = 0;
  int ranks = 1;
  index_t chunk() const { return seq_len / (2 * ranks); }
  index_t local_len() const { return 2 * chunk(); }
  // Global index of the first token of local chunk `which` (0 or 1) of `rank`.
  index_t chunk_begin(int rank, int which) const {
    return (which == 0 ? index_t{rank} : index_t{2 * ranks - 1 - rank}) * chunk();
  }
  void check() const {
    if (ranks <= 0 || seq_len <= 0 || seq_len % (2 * ranks) != 0) {
      raise<shape_error>("ring attention: seq_len ", seq_len,
                         " must be a positive multiple of 2 * ranks = ", 2 * ranks);
    }
    check_attention_shape({1, seq_len, seq_len, heads, kv_heads, head_dim});
  }
};

// Rows (tokens) of a global (seq_len, ...) array that rank `rank` holds, in
// local order: global tensor -> local shard, and back.
template <class T>
void zigzag_shard(const ring_shape& s, int rank, std::span<const T> global, std::span<T> local) {
  const std::size_t row = global.size() / static_cast<std::size_t>(s.seq_len);
  const std::size_t c = static_cast<std::size_t>(s.chunk()) * row;
  for (int w = 0; w < 2; ++w) {
    const auto begin = static_cast<std::size_t>(s.chunk_begin(rank, w)) * row;
    std::copy(global.begin() + static_cast<std::ptrdiff_t>(begin),
              global.begin() + static_cast<std::ptrdiff_t>(begin + c),
              local.begin() + static_cast<std::ptrdiff_t>(w * c));
  }
}
template <class T>
void zigzag_unshard(const ring_shape& s, int rank, std::span<const T> local, std::span<T> global) {
  const std::size_t row = global.size() / static_cast<std::size_t>(s.seq_len);
  const std::size_t c = static_cast<std::size_t>(s.chunk()) * row;
  for (int w = 0; w < 2; ++w) {
    const auto begin = static_cast<std::size_t>(s.chunk_begin(rank, w)) * row;
    std::copy(local.begin() + static_cast<std::ptrdiff_t>(w * c),
              local.begin() + static_cast<std::ptrdiff_t>((w + 1) * c),
              global.begin() + static_cast<std::ptrdiff_t>(begin));
  }
}

// Merges a partial result (part_out, part_lse) into (out, lse), rows of
// head_dim values with one lse each; rows with lse = -inf carry no weight.
template <class T>
void merge_partial(index_t rows, index_t head_dim, const T* part_out, const T* part_lse, T* out, T* lse) {
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (rows * head_dim > (1 << 15))
#endif
  for (index_t i = 0; i < rows; ++i) {
    const T a = lse[i], b = part_lse[i];
    if (b == minus_infinity<T>) continue;
    if (a == minus_infinity<T>) {
      lse[i] = b;
      std::copy(part_out + i * head_dim, part_out + (i + 1) * head_dim, out + i * head_dim);
      continue;
    }
    const T m = std::max(a, b);
    const T wa = std::exp(a - m), wb = std::exp(b - m), sum = wa + wb;
    const T ca = wa / sum, cb = wb / sum;
    for (index_t e = 0; e < head_dim; ++e)
      out[i * head_dim + e] = ca * out[i * head_dim + e] + cb * part_out[i * head_dim + e];
    lse[i] = m + std::log(sum);
  }
}

// The schedule, shared by every ring implementation (host here, device in
// lsk/backends/cuda/ring_attention.hpp): at step `step` rank `rank` holds the
// key/value block of rank ring_owner(s, rank, step) and computes the pairs
// (its query chunk qa, the block's key chunk ka) in which some query sees some
// key. With equal chunks a pair is either on the diagonal (the same chunk:
// causal inside) or entirely below it (every key visible); pairs above are
// skipped. After each step but the last, blocks move to ring_next (from ring_prev).
struct ring_pair {
  int qa = 0, ka = 0;                // local query chunk, key chunk of the visiting block (0 or 1)
  index_t q_begin = 0, k_begin = 0;  // their first tokens in the whole sequence
  bool diagonal = false;             // the same chunk: causal; else every key is visible
};
inline int ring_owner(const ring_shape& s, int rank, int step) { return (rank - step + s.ranks) % s.ranks; }
inline int ring_next(const ring_shape& s, int rank) { return (rank + 1) % s.ranks; }
inline int ring_prev(const ring_shape& s, int rank) { return (rank - 1 + s.ranks) % s.ranks; }
template <class F>
void for_each_ring_pair(const ring_shape& s, int rank, int step, F&& f) {
  const int owner = ring_owner(s, rank, step);
  for (int qa = 0; qa < 2; ++qa) {
    for (int ka = 0; ka < 2; ++ka) {
      const index_t q_begin = s.chunk_begin(rank, qa), k_begin = s.chunk_begin(owner, ka);
      if (k_begin > q_begin + s.chunk() - 1) continue;  // entirely above the diagonal
      f(ring_pair{qa, ka, q_begin, k_begin, k_begin == q_begin});
    }
  }
}

namespace ring_detail {
template <class T>
attention_block<T> pair_block(const ring_shape& s, const T* q, index_t q_begin, const T* k, const T* v, index_t k_begin,
                              const std::int32_t* docs, T scale) {
  attention_block<T> blk;
  blk.batch = 1;
  blk.q_len = blk.k_len = s.chunk();
  blk.heads = s.heads;
  blk.kv_heads = s.kv_heads;
  blk.head_dim = s.head_dim;
  blk.q_begin = q_begin;
  blk.k_begin = k_begin;
  blk.q = q;
  blk.k = k;
  blk.v = v;
  if (docs != nullptr) {
    blk.q_doc = docs + q_begin;
    blk.k_doc = docs + k_begin;
  }
  blk.scale = scale;
  return blk;
}
inline const std::int32_t* docs_of(const ring_shape& s, const attention_mask& mask) {
  if (!mask.by_document()) return nullptr;
  if (mask.documents.numel() != s.seq_len) {
    raise<shape_error>("ring attention: ", mask.documents.numel(), " document ids for a sequence of ", s.seq_len);
  }
  return mask.documents.data();
}
template <class T>
void check_local(const ring_shape& s, std::string_view what, std::span<const T> x, index_t heads) {
  const auto want = static_cast<std::size_t>(s.local_len() * heads * s.head_dim);
  if (x.size() != want) {
    raise<shape_error>("ring attention: ", what, " holds ", x.size(), " elements, the local shard needs ", want);
  }
}
}  // namespace ring_detail

// Forward on this rank's zigzag shard. mask.documents: empty, or the global
// (seq_len) document ids. Writes out (2c, heads, head_dim) and lse (2c, heads).
template <Communicator C, real_scalar T>
void ring_forward(C& comm, const ring_shape& s, const attention_mask& mask, std::span<const T> q, std::span<const T> k,
                  std::span<const T> v, T scale, std::span<T> out, std::span<T> lse, const tile_config& cfg = {}) {
  using namespace ring_detail;
  s.check();
  if (comm.size() != s.ranks)
    raise<shape_error>("ring attention: shape for ", s.ranks, " ranks, communicator has ", comm.size());
  check_local<T>(s, "q", q, s.heads);
  check_local<T>(s, "out", out, s.heads);
  check_local<T>(s, "k", k, s.kv_heads);
  check_local<T>(s, "v", v, s.kv_heads);
  const std::int32_t* docs = docs_of(s, mask);
  const int P = s.ranks, r = comm.rank();
  const index_t c = s.chunk(), q_chunk = c * s.heads * s.head_dim, kv_chunk = c * s.kv_heads * s.head_dim;
  const auto kv_elems = static_cast<std::size_t>(2 * kv_chunk);
  std::vector<T> cur(2 * kv_elems), next(2 * kv_elems);  // [k | v] of the block being visited
  std::copy(k.begin(), k.end(), cur.begin());
  std::copy(v.begin(), v.end(), cur.begin() + static_cast<std::ptrdiff_t>(kv_elems));
  std::fill(out.begin(), out.end(), T(0));
  std::fill(lse.begin(), lse.end(), minus_infinity<T>);
  std::vector<T> part_out(static_cast<std::size_t>(q_chunk)), part_lse(static_cast<std::size_t>(c * s.heads));
  for (int step = 0; step < P; ++step) {
    for_each_ring_pair(s, r, step, [&](const ring_pair& pr) {
      const auto blk =
          pair_block<T>(s, q.data() + pr.qa * q_chunk, pr.q_begin, cur.data() + pr.ka * kv_chunk,
                        cur.data() + static_cast<std::ptrdiff_t>(kv_elems) + pr.ka * kv_chunk, pr.k_begin, docs, scale);
      tiled_forward_block(blk, part_out.data(), part_lse.data(), cfg);
      merge_partial(c * s.heads, s.head_dim, part_out.data(), part_lse.data(), out.data() + pr.qa * q_chunk,
                    lse.data() + pr.qa * c * s.heads);
    });
    if (step + 1 < P) {
      comm.send_recv(std::span<const T>(cur), ring_next(s, r), std::span<T>(next), ring_prev(s, r));
      std::swap(cur, next);
    }
  }
}

// Backward on this rank's shard, from the forward's out and lse; overwrites
// dq (2c, heads, head_dim), dk and dv (2c, kv_heads, head_dim).
template <Communicator C, real_scalar T>
void ring_backward(C& comm, const ring_shape& s, const attention_mask& mask, std::span<const T> q, std::span<const T> k,
                   std::span<const T> v, std::span<const T> out, std::span<const T> lse, std::span<const T> dout,
                   T scale, std::span<T> dq, std::span<T> dk, std::span<T> dv, const tile_config& cfg = {}) {
  using namespace ring_detail;
  s.check();
  if (comm.size() != s.ranks)
    raise<shape_error>("ring attention: shape for ", s.ranks, " ranks, communicator has ", comm.size());
  check_local<T>(s, "q", q, s.heads);
  check_local<T>(s, "out", out, s.heads);
  check_local<T>(s, "dout", dout, s.heads);
  check_local<T>(s, "dq", std::span<const T>(dq), s.heads);
  check_local<T>(s, "k", k, s.kv_heads);
  check_local<T>(s, "v", v, s.kv_heads);
  check_local<T>(s, "dk", std::span<const T>(dk), s.kv_heads);
  check_local<T>(s, "dv", std::span<const T>(dv), s.kv_heads);
  const std::int32_t* docs = docs_of(s, mask);
  const int P = s.ranks, r = comm.rank();
  const index_t c = s.chunk(), q_chunk = c * s.heads * s.head_dim, kv_chunk = c * s.kv_heads * s.head_dim;
  const auto kv_elems = static_cast<std::size_t>(2 * kv_chunk);
  std::vector<T> delta(static_cast<std::size_t>(2 * c * s.heads));
  attention_row_dot(dout.data(), out.data(), 2 * c, s.heads, s.head_dim, delta.data());
  std::fill(dq.begin(), dq.end(), T(0));
  // [k | v | dk | dv] of the block being visited.
  std::vector<T> cur(4 * kv_elems, T(0)), next(4 * kv_elems);
  std::copy(k.begin(), k.end(), cur.begin());
  std::copy(v.begin(), v.end(), cur.begin() + static_cast<std::ptrdiff_t>(kv_elems));
  for (int step = 0; step < P; ++step) {
    T* kb = cur.data();
    T* vb = kb + kv_elems;
    T* dkb = vb + kv_elems;
    T* dvb = dkb + kv_elems;
    for_each_ring_pair(s, r, step, [&](const ring_pair& pr) {
      const auto blk = pair_block<T>(s, q.data() + pr.qa * q_chunk, pr.q_begin, kb + pr.ka * kv_chunk,
                                     vb + pr.ka * kv_chunk, pr.k_begin, docs, scale);
      tiled_backward_block(blk, dout.data() + pr.qa * q_chunk, lse.data() + pr.qa * c * s.heads,
                           delta.data() + pr.qa * c * s.heads, dq.data() + pr.qa * q_chunk, dkb + pr.ka * kv_chunk,
                           dvb + pr.ka * kv_chunk, cfg);
    });
    if (P > 1) {
      // The last shift only needs the gradients: (k, v) are home already.
      const std::size_t from = step + 1 < P ? 0 : 2 * kv_elems;
      comm.send_recv(std::span<const T>(cur).subspan(from), ring_next(s, r), std::span<T>(next).subspan(from),
                     ring_prev(s, r));
      std::swap(cur, next);
    }
  }
  std::copy(cur.begin() + static_cast<std::ptrdiff_t>(2 * kv_elems),
            cur.begin() + static_cast<std::ptrdiff_t>(3 * kv_elems), dk.begin());
  std::copy(cur.begin() + static_cast<std::ptrdiff_t>(3 * kv_elems), cur.end(), dv.begin());
}

}  // namespace lsk::attention
