// lsk/ops/adamw_update.hpp: one fused AdamW update of a parameter tensor, in place.
//
// With c = adamw_coefficients (lsk/ops/adamw_coefficients.hpp), element-wise,
// g = grad * grad_scale (one rounding in T, as a separate scale op would give):
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g^2
//   p <- p * decay_factor - step_size * m / (sqrt(v) * inv_sqrt_c2 + eps)
// i.e. torch.optim.AdamW's update with bias corrections folded into
// step_size and inv_sqrt_c2 (lsk/optim/adamw.hpp). param, m and v are
// overwritten; grad is read. Runs where the backend's memory is, so an
// optimizer's state can stay on the device with the weights.
#pragma once

#include "lsk/ops/adamw_coefficients.hpp"
#include "lsk/ops/check.hpp"

namespace lsk {

template <Backend B, real_scalar T>
void adamw_update(B& be, tensor_view<T> param, std::type_identity_t<const_view<T>> grad, tensor_view<T> m,
                  tensor_view<T> v, const adamw_coefficients<T>& c) {
  detail::require_support(be, op_kind::adamw_update, dtype_of<T>);
  detail::require_same_shape("adamw_update", "param", param, "grad", grad);
  detail::require_same_shape("adamw_update", "param", param, "m", m);
  detail::require_same_shape("adamw_update", "param", param, "v", v);
  detail::require_all_contiguous("adamw_update", param, grad, m, v);
  be.adamw_update(param, grad, m, v, c);
}

}  // namespace lsk
