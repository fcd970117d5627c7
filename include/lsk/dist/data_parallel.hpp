// lsk/dist/data_parallel.hpp: data parallelism over a Communicator.
//
// Every rank holds the same weights (same seed, or a loaded checkpoint), runs
// forward/backward on its own micro-batches, and then sums the gradients over
// ranks with all_reduce_gradients before the optimizer step; every rank then
// takes the same step. For the sum to be the gradient of the global loss, each
// rank normalises its loss by the global count of valid tokens:
//   double global = all_reduce_count(comm, batch.valid_tokens());
//   model.forward(be, batch, global); model.backward(be);
//   all_reduce_gradients(comm, model.grads);
// Numerics: gradients are summed in their own type (f32 in training); the
// all-reduce gives every rank the same bits (Communicator requirement 2).
// Run with mpirun over processes/hosts (lsk/dist/mpi_communicator.hpp).
#pragma once

#include <span>
#include <string>

#include "lsk/dist/communicator.hpp"
#include "lsk/model/llama_weights.hpp"

namespace lsk::dist {

enum class gradient_reduction { sum, mean };

// Sums (or averages) `values` over the ranks, in place.
template <Communicator C, real_scalar T>
void all_reduce(C& comm, std::span<T> values, gradient_reduction op) {
  comm.all_reduce_sum(values);
  if (op != gradient_reduction::mean) return;
  const T inv = T(1) / static_cast<T>(comm.size());
  for (auto& x : values) x *= inv;
}

// Sums (or averages) every gradient tensor over the ranks, in place.
template <Communicator C, real_scalar T>
void all_reduce_gradients(C& comm, model::llama_weights<T>& grads, gradient_reduction op = gradient_reduction::sum) {
  grads.for_each([&](const std::string&, tensor<T>& g) {
    all_reduce(comm, std::span<T>(g.data(), static_cast<std::size_t>(g.numel())), op);
  });
}

// The sum over ranks of a per-rank count (e.g. valid tokens), as a double.
template <Communicator C>
double all_reduce_count(C& comm, double local) {
  double v = local;
  comm.all_reduce_sum(std::span<double>(&v, 1));
  return v;
}

}  // namespace lsk::dist
