// bench/cpu/bench_ring_mpi.cpp: context-parallel efficiency of the zigzag ring
// attention over MPI. Every rank holds 2 chunks of one causal sequence; the
// program times ring_forward + ring_backward (median of --reps runs, after a
// warm-up, all ranks synchronised by a barrier) and prints, on rank 0, the
// time, the GFLOP/s of the whole sequence (causal FLOPs, fwd+bwd = 3.5x fwd)
// and the time spent in send_recv.
// Efficiency = t(1 rank) / (P * t(P ranks)) with the same total sequence:
//   OMP_NUM_THREADS=1 mpirun --allow-run-as-root -np 1 build/bench/bench_ring_mpi 16384
//   OMP_NUM_THREADS=1 mpirun --allow-run-as-root -np 2 build/bench/bench_ring_mpi 16384
// (bench/cpu/run_ring_mpi.sh runs both and prints the ratio).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "lsk/attention/ring.hpp"
#include "lsk/dist/mpi_communicator.hpp"
#include "lsk/testing/random.hpp"

namespace {
// Wraps a communicator to add up the time spent in send_recv.
template <class C>
struct timed {
  static constexpr std::string_view name = "timed";
  C& inner;
  double seconds = 0;
  int rank() const { return inner.rank(); }
  int size() const { return inner.size(); }
  template <class T>
  void all_reduce_sum(std::span<T> b) {
    inner.all_reduce_sum(b);
  }
  template <class T>
  void send_recv(std::span<const T> s, int d, std::span<T> r, int src) {
    const auto t0 = std::chrono::steady_clock::now();
    inner.send_recv(s, d, r, src);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  void barrier() { inner.barrier(); }
};
}  // namespace

int main(int argc, char** argv) {
  lsk::dist::mpi_environment env(argc, argv);
  lsk::dist::mpi_communicator mpi;
  timed<lsk::dist::mpi_communicator> comm{mpi};
  const lsk::index_t len = argc > 1 ? std::atoll(argv[1]) : 16384;
  const lsk::index_t heads = argc > 2 ? std::atoll(argv[2]) : 8, kv_heads = argc > 3 ? std::atoll(argv[3]) : 8;
  const lsk::index_t head_dim = argc > 4 ? std::atoll(argv[4]) : 64;
  const int reps = argc > 5 ? std::atoi(argv[5]) : 3;
  const lsk::attention::ring_shape s{len, heads, kv_heads, head_dim, comm.size()};
  lsk::rng g(static_cast<std::uint64_t>(5 + comm.rank()));
  const auto qn = static_cast<std::size_t>(s.local_len() * heads * head_dim);
  const auto kn = static_cast<std::size_t>(s.local_len() * kv_heads * head_dim);
  auto random = [&](std::size_t n) {
    auto t = lsk::testing::random_tensor<float>(g, lsk::shape{static_cast<lsk::index_t>(n)});
    return t.values();
  };
  std::vector<float> q = random(qn), k = random(kn), v = random(kn), dout = random(qn), out(qn),
                     lse(static_cast<std::size_t>(s.local_len() * heads)), dq(qn), dk(kn), dv(kn);
  const float scale = 1.0f / std::sqrt(float(head_dim));
  std::vector<double> times, comm_times;
  for (int rep = 0; rep <= reps; ++rep) {
    comm.barrier();
    comm.seconds = 0;
    const auto t0 = std::chrono::steady_clock::now();
    lsk::attention::ring_forward<decltype(comm), float>(comm, s, {}, q, k, v, scale, out, lse);
    lsk::attention::ring_backward<decltype(comm), float>(comm, s, {}, q, k, v, out, lse, dout, scale, dq, dk, dv);
    comm.barrier();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) {
      times.push_back(t);
      comm_times.push_back(comm.seconds);
    }
  }
  std::sort(times.begin(), times.end());
  std::sort(comm_times.begin(), comm_times.end());
  const double t = times[times.size() / 2];
  const double flops = 3.5 * 4.0 * double(len) * double(len + 1) / 2.0 * double(head_dim) * double(heads);
  if (comm.rank() == 0) {
    std::printf("ranks %d len %lld heads %lld/%lld head_dim %lld: fwd+bwd %.3f s, %.1f GFLOP/s, send_recv %.3f s\n",
                comm.size(), static_cast<long long>(len), static_cast<long long>(heads),
                static_cast<long long>(kv_heads), static_cast<long long>(head_dim), t, flops / t * 1e-9,
                comm_times[comm_times.size() / 2]);
  }
  return 0;
}
