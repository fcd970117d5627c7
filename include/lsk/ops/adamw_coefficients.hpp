// lsk/ops/adamw_coefficients.hpp: the scalars of one AdamW update (lsk/ops/adamw_update.hpp).
#pragma once

namespace lsk {

// Made by lsk::optim::adamw for each step from its options and step count t:
// step_size = lr / (1 - beta1^t), inv_sqrt_c2 = 1 / sqrt(1 - beta2^t),
// decay_factor = 1 - lr * weight_decay (1 for parameters without decay);
// grad_scale multiplies each gradient element as it is read (the global-norm
// clipping factor, lsk/optim/grad_clip.hpp; 1 leaves the gradient as it is).
template <class T>
struct adamw_coefficients {
  T beta1, beta2, step_size, inv_sqrt_c2, eps, decay_factor;
  T grad_scale = T(1);
};

}  // namespace lsk
