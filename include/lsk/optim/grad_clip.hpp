// lsk/optim/grad_clip.hpp: global-norm gradient clipping.
//
// total = sqrt(sum over all gradient tensors of sum_squares) (each partial a
// host double from the backend); if total > max_norm every gradient is scaled
// by max_norm / (total + 1e-6), as torch.nn.utils.clip_grad_norm_ does. A
// non-finite norm throws numeric_error before anything is scaled, so a NaN in
// the gradients never reaches the weights.
#pragma once

#include <cmath>
#include <vector>

#include "lsk/ops/elementwise.hpp"
#include "lsk/ops/reduction.hpp"

namespace lsk::optim {

// Returns the norm before clipping. max_norm <= 0 only measures.
template <Backend B, real_scalar T>
double clip_grad_norm(B& be, const std::vector<tensor_view<T>>& grads, double max_norm) {
  double squares = 0;
  for (const auto& g : grads) squares += sum_squares(be, g);
  const double total = std::sqrt(squares);
  if (!std::isfinite(total)) raise<numeric_error>("clip_grad_norm: the gradient norm is ", total);
  if (max_norm > 0 && total > max_norm) {
    const auto factor = static_cast<T>(max_norm / (total + 1e-6));
    for (const auto& g : grads) scale<B, T>(be, g, factor, g);
  }
  return total;
}

}  // namespace lsk::optim
