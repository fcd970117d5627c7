// lsk/ops/rmsnorm.hpp: RMSNorm over the innermost axis, and its gradient.
//
// forward:  rstd[r] = 1 / sqrt(mean_j x[r,j]^2 + eps);  y[r,j] = x[r,j] * rstd[r] * w[j]
//           x, y: (..., d); w: (d); rstd: (rows) saved for backward.
// backward: g = dy * w;  dx = rstd * (g - x * rstd^2 * mean_j(g * x))   (overwrites dx)
//           dw[j] += sum_r dy[r,j] * x[r,j] * rstd[r]                    (accumulates)
#pragma once

#include "lsk/ops/check.hpp"

namespace lsk {

template <Backend B, real_scalar T>
void rmsnorm_forward(B& be, std::type_identity_t<const_view<T>> x, std::type_identity_t<const_view<T>> w, T eps,
                     tensor_view<T> y, tensor_view<T> rstd) {
  constexpr std::string_view op = "rmsnorm_forward";
  detail::require_support(be, op_kind::rmsnorm_forward, dtype_of<T>);
  detail::require_rank_at_least(op, "x", x, 1);
  detail::require_same_shape(op, "x", x, "y", y);
  detail::require_numel(op, "w", w, x.dim(-1));
  detail::require_numel(op, "rstd", rstd, x.extents().rows());
  detail::require_all_contiguous(op, x, w, y, rstd);
  if (!(eps >= T(0))) raise<config_error>(op, ": eps must be >= 0, got ", eps);
  be.rmsnorm_forward(x, w, eps, y, rstd);
}

template <Backend B, real_scalar T>
void rmsnorm_backward(B& be, std::type_identity_t<const_view<T>> dy, std::type_identity_t<const_view<T>> x,
                      std::type_identity_t<const_view<T>> w, std::type_identity_t<const_view<T>> rstd,
                      tensor_view<T> dx, tensor_view<T> dw) {
  constexpr std::string_view op = "rmsnorm_backward";
  detail::require_support(be, op_kind::rmsnorm_backward, dtype_of<T>);
  detail::require_rank_at_least(op, "x", x, 1);
  detail::require_same_shape(op, "x", x, "dy", dy);
  detail::require_same_shape(op, "x", x, "dx", dx);
  detail::require_numel(op, "w", w, x.dim(-1));
  detail::require_same_shape(op, "w", w, "dw", dw);
  detail::require_numel(op, "rstd", rstd, x.extents().rows());
  detail::require_all_contiguous(op, dy, x, w, rstd, dx, dw);
  be.rmsnorm_backward(dy, x, w, rstd, dx, dw);
}

}  // namespace lsk
