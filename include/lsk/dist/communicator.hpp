// lsk/dist/communicator.hpp: what a communicator between ranks must provide.
//
// A communicator connects `size()` ranks (processes, threads or GPUs) running
// the same program; lsk uses it for context parallelism (ring attention passes
// key/value blocks around the ring, lsk/attention/ring.hpp) and data
// parallelism (gradient all-reduce, lsk/dist/data_parallel.hpp). Engines:
// thread_communicator (in-process, for tests: lsk/dist/thread_communicator.hpp),
// mpi_communicator (CPU processes, lsk/dist/mpi_communicator.hpp, needs MPI),
// nccl_communicator (GPUs, lsk/dist/nccl_communicator.hpp, needs CUDA + NCCL).
//
// Semantic requirements (not checkable by the compiler; tests/unit/test_dist.cpp
// and tests/dist/mpi_dist_test.cpp check them for the lsk engines):
//  1. 0 <= rank() < size(), both fixed for the communicator's life; ranks of
//     one communicator are distinct.
//  2. all_reduce_sum(buf) is collective: every rank calls it with the same
//     length, and afterwards every rank's buf holds the elementwise sum over
//     ranks. Every rank gets bitwise the same result (a fixed reduction order).
//  3. send_recv(send, dest, recv, src) sends `send` to rank dest and receives
//     into `recv` what rank src sent to this rank; it returns when both are
//     done. The message dest receives has the length of `send`, and
//     recv.size() must equal what src sends. Engines may make it collective
//     (all ranks call it in the same step, as a ring shift does); lsk only
//     uses it that way. dest == src == rank() copies send to recv.
//  4. barrier() returns on a rank only after every rank has entered it.
//  5. Calls on one communicator are made from one thread per rank, in the
//     same order on every rank. Buffers live in the engine's memory space
//     (host for thread/MPI, device for NCCL) and must not overlap.
//  6. Failures throw lsk::error (never abort silently); a failed collective
//     leaves the communicator unusable.
// Memory space: a communicator whose buffers are device memory declares
// `static constexpr memory_space memory = memory_space::device` (NCCL); one
// that declares nothing works on host memory (communicator_memory<C>).
#pragma once

#include <concepts>
#include <span>
#include <string_view>

#include "lsk/concepts/backend.hpp"

namespace lsk {

template <class C>
concept Communicator = requires(C& c, const C& cc, std::span<float> f, std::span<const float> cf, std::span<double> d,
                                std::span<const double> cd, int peer) {
  { C::name } -> std::convertible_to<std::string_view>;
  { cc.rank() } -> std::same_as<int>;
  { cc.size() } -> std::same_as<int>;
  { c.all_reduce_sum(f) } -> std::same_as<void>;
  { c.all_reduce_sum(d) } -> std::same_as<void>;
  { c.send_recv(cf, peer, f, peer) } -> std::same_as<void>;
  { c.send_recv(cd, peer, d, peer) } -> std::same_as<void>;
  { c.barrier() } -> std::same_as<void>;
};

}  // namespace lsk

namespace lsk::dist {
// Where communicator C's buffers live: C::memory when declared, else the host.
template <class C>
constexpr memory_space communicator_memory() {
  if constexpr (requires { C::memory; }) {
    return C::memory;
  } else {
    return memory_space::host;
  }
}
}  // namespace lsk::dist

namespace lsk::archetypes {

// The smallest communicator, and types one requirement short (declared only).
struct communicator {
  static constexpr std::string_view name = "archetype";
  int rank() const;
  int size() const;
  void all_reduce_sum(std::span<float>);
  void all_reduce_sum(std::span<double>);
  void send_recv(std::span<const float>, int, std::span<float>, int);
  void send_recv(std::span<const double>, int, std::span<double>, int);
  void barrier();
};

struct communicator_without_double {  // f64 all-reduce is needed for loss sums
  static constexpr std::string_view name = "no double";
  int rank() const;
  int size() const;
  void all_reduce_sum(std::span<float>);
  void send_recv(std::span<const float>, int, std::span<float>, int);
  void send_recv(std::span<const double>, int, std::span<double>, int);
  void barrier();
};

struct communicator_without_send_recv {  // ring attention cannot pass blocks
  static constexpr std::string_view name = "no p2p";
  int rank() const;
  int size() const;
  void all_reduce_sum(std::span<float>);
  void all_reduce_sum(std::span<double>);
  void barrier();
};

struct communicator_with_mutable_rank {  // rank() must be const
  static constexpr std::string_view name = "mutable";
  int rank();
  int size() const;
  void all_reduce_sum(std::span<float>);
  void all_reduce_sum(std::span<double>);
  void send_recv(std::span<const float>, int, std::span<float>, int);
  void send_recv(std::span<const double>, int, std::span<double>, int);
  void barrier();
};

}  // namespace lsk::archetypes
