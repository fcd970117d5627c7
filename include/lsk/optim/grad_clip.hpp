// lsk/optim/grad_clip.hpp: global-norm gradient clipping.
//
// total = sqrt(sum over all gradient tensors of sum_squares) (a host double
// from the backend's sum_squares_total: one wait for a device); if total >
// max_norm every gradient is scaled by max_norm / (total + 1e-6), as
// torch.nn.utils.clip_grad_norm_ does. A non-finite norm throws numeric_error
// before anything is scaled, so a NaN in the gradients never reaches the
// weights. measure_grad_norm leaves the gradients as they are and returns the
// factor, for an optimizer that applies it as it reads them (adamw::step's
// grad_scale: one pass over the gradients fewer).
#pragma once

#include <cmath>
#include <vector>

#include "lsk/ops/elementwise.hpp"
#include "lsk/ops/reduction.hpp"

namespace lsk::optim {

// The global norm of the gradients and the factor that clips it to max_norm
// (1 when it is within max_norm, or max_norm <= 0: only measured).
struct grad_norm_clip {
  double norm = 0;
  double factor = 1;
};

template <Backend B, real_scalar T>
grad_norm_clip measure_grad_norm(B& be, const std::vector<tensor_view<T>>& grads, double max_norm) {
  const double total = std::sqrt(sum_squares_total<B, T>(be, grads));
  if (!std::isfinite(total)) raise<numeric_error>("clip_grad_norm: the gradient norm is ", total);
  grad_norm_clip r{total, 1.0};
  if (max_norm > 0 && total > max_norm) r.factor = max_norm / (total + 1e-6);
  return r;
}

// Scales the gradients in place; returns the norm before clipping.
template <Backend B, real_scalar T>
double clip_grad_norm(B& be, const std::vector<tensor_view<T>>& grads, double max_norm) {
  const grad_norm_clip r = measure_grad_norm<B, T>(be, grads, max_norm);
  if (r.factor != 1.0) {
    const auto factor = static_cast<T>(r.factor);
    for (const auto& g : grads) scale<B, T>(be, g, factor, g);
  }
  return r.norm;
}

}  // namespace lsk::optim
