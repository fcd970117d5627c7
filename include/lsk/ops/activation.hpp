// lsk/ops/activation.hpp: SiLU and SwiGLU, forward and backward.
//
// silu(x)   = x * sigmoid(x);  silu'(x) = sigmoid(x) * (1 + x * (1 - sigmoid(x)))
// swiglu(g, u) = silu(g) * u;  dg = dy * u * silu'(g),  du = dy * silu(g)
// All tensors have the same shape; outputs are overwritten.
#pragma once

#include "lsk/ops/check.hpp"

namespace lsk {

template <Backend B, real_scalar T>
void silu_forward(B& be, std::type_identity_t<const_view<T>> x, tensor_view<T> y) {
  constexpr std::string_view op = "silu_forward";
  detail::require_support(be, op_kind::silu_forward, dtype_of<T>);
  detail::require_same_shape(op, "x", x, "y", y);
  detail::require_all_contiguous(op, x, y);
  be.silu_forward(x, y);
}

template <Backend B, real_scalar T>
void silu_backward(B& be, std::type_identity_t<const_view<T>> x, std::type_identity_t<const_view<T>> dy,
                   tensor_view<T> dx) {
  constexpr std::string_view op = "silu_backward";
  detail::require_support(be, op_kind::silu_backward, dtype_of<T>);
  detail::require_same_shape(op, "x", x, "dy", dy);
  detail::require_same_shape(op, "x", x, "dx", dx);
  detail::require_all_contiguous(op, x, dy, dx);
  be.silu_backward(x, dy, dx);
}

template <Backend B, real_scalar T>
void swiglu_forward(B& be, std::type_identity_t<const_view<T>> gate, std::type_identity_t<const_view<T>> up,
                    tensor_view<T> y) {
  constexpr std::string_view op = "swiglu_forward";
  detail::require_support(be, op_kind::swiglu_forward, dtype_of<T>);
  detail::require_same_shape(op, "gate", gate, "up", up);
  detail::require_same_shape(op, "gate", gate, "y", y);
  detail::require_all_contiguous(op, gate, up, y);
  be.swiglu_forward(gate, up, y);
}

template <Backend B, real_scalar T>
void swiglu_backward(B& be, std::type_identity_t<const_view<T>> gate, std::type_identity_t<const_view<T>> up,
                     std::type_identity_t<const_view<T>> dy, tensor_view<T> dgate, tensor_view<T> dup) {
  constexpr std::string_view op = "swiglu_backward";
  detail::require_support(be, op_kind::swiglu_backward, dtype_of<T>);
  detail::require_same_shape(op, "gate", gate, "up", up);
  detail::require_same_shape(op, "gate", gate, "dy", dy);
  detail::require_same_shape(op, "gate", gate, "dgate", dgate);
  detail::require_same_shape(op, "gate", gate, "dup", dup);
  detail::require_all_contiguous(op, gate, up, dy, dgate, dup);
  be.swiglu_backward(gate, up, dy, dgate, dup);
}

}  // namespace lsk
