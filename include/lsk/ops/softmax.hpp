// lsk/ops/softmax.hpp: softmax over the innermost axis, plain and causal.
//
// softmax_forward:        y[r, :] = softmax(scale * x[r, :])
// causal_softmax_forward: x, y: (..., q, k) with k >= q; query i sees keys
//                         j <= i + (k - q) (bottom-right aligned, as with a KV
//                         cache); masked entries of y are exactly 0.
// softmax_backward:       dx = scale * y * (dy - sum_j dy_j * y_j); serves both
//                         forms, since masked entries have y = 0 and get dx = 0.
// In place is allowed: y may be x (forward) and dx may be dy (backward); the
// conformance suite checks both.
#pragma once

#include "lsk/ops/check.hpp"

namespace lsk {

template <Backend B, real_scalar T>
void softmax_forward(B& be, std::type_identity_t<const_view<T>> x, T scale, tensor_view<T> y) {
  constexpr std::string_view op = "softmax_forward";
  detail::require_support(be, op_kind::softmax_forward, dtype_of<T>);
  detail::require_rank_at_least(op, "x", x, 1);
  detail::require_same_shape(op, "x", x, "y", y);
  detail::require_all_contiguous(op, x, y);
  be.softmax_forward(x, scale, y);
}

template <Backend B, real_scalar T>
void causal_softmax_forward(B& be, std::type_identity_t<const_view<T>> x, T scale, tensor_view<T> y) {
  constexpr std::string_view op = "causal_softmax_forward";
  detail::require_support(be, op_kind::causal_softmax_forward, dtype_of<T>);
  detail::require_rank_at_least(op, "x", x, 2);
  if (x.dim(-1) < x.dim(-2)) {
    raise<shape_error>(op, ": x ", x.extents().str(), " needs at least as many keys as queries");
  }
  detail::require_same_shape(op, "x", x, "y", y);
  detail::require_all_contiguous(op, x, y);
  be.causal_softmax_forward(x, scale, y);
}

template <Backend B, real_scalar T>
void softmax_backward(B& be, std::type_identity_t<const_view<T>> y, std::type_identity_t<const_view<T>> dy, T scale,
                      tensor_view<T> dx) {
  constexpr std::string_view op = "softmax_backward";
  detail::require_support(be, op_kind::softmax_backward, dtype_of<T>);
  detail::require_rank_at_least(op, "y", y, 1);
  detail::require_same_shape(op, "y", y, "dy", dy);
  detail::require_same_shape(op, "y", y, "dx", dx);
  detail::require_all_contiguous(op, y, dy, dx);
  be.softmax_backward(y, dy, scale, dx);
}

}  // namespace lsk
