// Context and data parallelism over MPI (run by CTest as `mpirun -np 2`):
// every rank builds the same random problem, runs the zigzag ring attention on
// its shard and compares out, lse, dq, dk, dv with the single-process tiled
// attention (1e-5 relative, f32), plain causal and document-masked; then
// checks the gradient all-reduce and send_recv of the MPI communicator, and
// split() into groups.
// Exit status 0 when every rank passes.
#include <cmath>
#include <cstdio>
#include <vector>

#include "lsk/attention/ring.hpp"
#include "lsk/attention/tiled.hpp"
#include "lsk/dist/data_parallel.hpp"
#include "lsk/dist/mpi_communicator.hpp"
#include "lsk/testing/random.hpp"

namespace {
using lsk::index_t;
using lsk::shape;
using lsk::tensor;
namespace att = lsk::attention;

double max_rel(std::span<const float> a, std::span<const float> e) {
  double err = 0, scale = 1e-30;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    err = std::max(err, std::abs(double(a[i]) - double(e[i])));
    scale = std::max(scale, std::abs(double(e[i])));
  }
  return err / scale;
}

// Returns the number of failed comparisons on this rank.
int check_ring(lsk::dist::mpi_communicator& comm, index_t chunk, index_t heads, index_t kv_heads, index_t head_dim,
               bool documents) {
  const att::ring_shape s{2 * comm.size() * chunk, heads, kv_heads, head_dim, comm.size()};
  const index_t N = s.seq_len;
  lsk::rng g(77);
  auto q = lsk::testing::random_tensor<float>(g, shape{N, heads, head_dim});
  auto k = lsk::testing::random_tensor<float>(g, shape{N, kv_heads, head_dim});
  auto v = lsk::testing::random_tensor<float>(g, shape{N, kv_heads, head_dim});
  auto dout = lsk::testing::random_tensor<float>(g, shape{N, heads, head_dim});
  tensor<std::int32_t> docs(shape{N}, 0);
  for (index_t t = 1; t < N && documents; ++t) docs(t) = docs(t - 1) + (g.below(11) == 0 ? 1 : 0);
  const att::attention_mask mask = documents ? att::document_mask(docs.view()) : att::causal_mask();
  const float scale = 1.0f / std::sqrt(float(head_dim));
  const att::attention_shape one{1, N, N, heads, kv_heads, head_dim};
  tensor<float> out(q.extents()), lse(shape{N * heads}), delta(shape{N * heads}), dq(q.extents()), dk(k.extents()),
      dv(k.extents());
  att::tiled_forward<float>(one, mask, q.view(), k.view(), v.view(), scale, lse.view(), out.view());
  att::tiled_backward<float>(one, mask, q.view(), k.view(), v.view(), out.view(), lse.view(), dout.view(), scale,
                             delta.view(), dq.view(), dk.view(), dv.view());
  const int r = comm.rank();
  const auto qn = static_cast<std::size_t>(s.local_len() * heads * head_dim);
  const auto kn = static_cast<std::size_t>(s.local_len() * kv_heads * head_dim);
  const auto ln = static_cast<std::size_t>(s.local_len() * heads);
  std::vector<float> lq(qn), lk(kn), lv(kn), ldo(qn), lo(qn), ll(ln), ldq(qn), ldk(kn), ldv(kn);
  std::vector<float> eo(qn), el(ln), edq(qn), edk(kn), edv(kn);
  att::zigzag_shard<float>(s, r, q.values(), lq);
  att::zigzag_shard<float>(s, r, k.values(), lk);
  att::zigzag_shard<float>(s, r, v.values(), lv);
  att::zigzag_shard<float>(s, r, dout.values(), ldo);
  att::zigzag_shard<float>(s, r, out.values(), eo);
  att::zigzag_shard<float>(s, r, lse.values(), el);
  att::zigzag_shard<float>(s, r, dq.values(), edq);
  att::zigzag_shard<float>(s, r, dk.values(), edk);
  att::zigzag_shard<float>(s, r, dv.values(), edv);
  att::ring_forward<lsk::dist::mpi_communicator, float>(comm, s, mask, lq, lk, lv, scale, lo, ll);
  att::ring_backward<lsk::dist::mpi_communicator, float>(comm, s, mask, lq, lk, lv, lo, ll, ldo, scale, ldq, ldk, ldv);
  const double errs[] = {max_rel(lo, eo), max_rel(ll, el), max_rel(ldq, edq), max_rel(ldk, edk), max_rel(ldv, edv)};
  int failed = 0;
  for (double e : errs) failed += !(e <= 1e-5);
  std::printf(
      "rank %d/%d ring seq_len %lld heads %lld/%lld head_dim %lld documents %d: max rel err out %.2e lse %.2e "
      "dq %.2e dk %.2e dv %.2e %s\n",
      r, comm.size(), static_cast<long long>(N), static_cast<long long>(heads), static_cast<long long>(kv_heads),
      static_cast<long long>(head_dim), int(documents), errs[0], errs[1], errs[2], errs[3], errs[4],
      failed ? "FAILED" : "ok");
  return failed;
}

int check_collectives(lsk::dist::mpi_communicator& comm) {
  int failed = 0;
  const int P = comm.size(), r = comm.rank();
  std::vector<float> f{float(r + 1), 0.5f};
  comm.all_reduce_sum(std::span<float>(f));
  failed += f[0] != float(P * (P + 1) / 2) || f[1] != 0.5f * float(P);
  failed += lsk::dist::all_reduce_count(comm, double(r)) != double(P * (P - 1) / 2);
  std::vector<double> send{double(r)}, recv{-1};
  comm.send_recv(std::span<const double>(send), (r + 1) % P, std::span<double>(recv), (r - 1 + P) % P);
  failed += recv[0] != double((r - 1 + P) % P);
  comm.barrier();
  std::printf("rank %d/%d collectives %s\n", r, P, failed ? "FAILED" : "ok");
  return failed;
}
}  // namespace

// split(): groups by color, ranks ordered by key, collectives inside a group only.
int check_split(lsk::dist::mpi_communicator& comm) {
  int failed = 0;
  const int r = comm.rank(), n = comm.size();
  auto alone = comm.split(r, 0);
  auto reversed = comm.split(0, -r);
  if (alone.size() != 1 || alone.rank() != 0) ++failed;
  if (reversed.size() != n || reversed.rank() != n - 1 - r) ++failed;
  double x = r + 1;
  alone.all_reduce_sum(std::span<double>(&x, 1));
  if (x != r + 1) ++failed;
  double y = r + 1;
  reversed.all_reduce_sum(std::span<double>(&y, 1));
  if (y != n * (n + 1) / 2.0) ++failed;
  if (failed) std::fprintf(stderr, "rank %d: split: %d checks failed\n", r, failed);
  return failed;
}

int main(int argc, char** argv) {
  lsk::dist::mpi_environment env(argc, argv);
  int failed = 0;
  try {
    lsk::dist::mpi_communicator comm;
    failed += check_collectives(comm);
    failed += check_split(comm);
    failed += check_ring(comm, 37, 4, 2, 64, false);
    failed += check_ring(comm, 29, 8, 1, 32, true);
    failed = static_cast<int>(lsk::dist::all_reduce_count(comm, double(failed)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return failed == 0 ? 0 : 1;
}
