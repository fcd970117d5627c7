// lsk/ops/elementwise.hpp: element-wise arithmetic on same-shape tensors.
//
// add: y = a + b     mul: y = a * b     scale: y = alpha * x (y may alias x)
// axpy: y += alpha * x                  fill: y = value
// Backward helpers: add_backward (da = db = dy), mul_backward (da = dy*b,
// db = dy*a), scale_backward (dx = alpha*dy), all overwriting.
#pragma once

#include "lsk/ops/check.hpp"

namespace lsk {

template <Backend B, real_scalar T>
void add(B& be, std::type_identity_t<const_view<T>> a, std::type_identity_t<const_view<T>> b, tensor_view<T> y) {
  detail::require_support(be, op_kind::add, dtype_of<T>);
  detail::require_same_shape("add", "a", a, "b", b);
  detail::require_same_shape("add", "a", a, "y", y);
  detail::require_all_contiguous("add", a, b, y);
  be.add(a, b, y);
}

template <Backend B, real_scalar T>
void mul(B& be, std::type_identity_t<const_view<T>> a, std::type_identity_t<const_view<T>> b, tensor_view<T> y) {
  detail::require_support(be, op_kind::mul, dtype_of<T>);
  detail::require_same_shape("mul", "a", a, "b", b);
  detail::require_same_shape("mul", "a", a, "y", y);
  detail::require_all_contiguous("mul", a, b, y);
  be.mul(a, b, y);
}

template <Backend B, real_scalar T>
void scale(B& be, std::type_identity_t<const_view<T>> x, T alpha, tensor_view<T> y) {
  detail::require_support(be, op_kind::scale, dtype_of<T>);
  detail::require_same_shape("scale", "x", x, "y", y);
  detail::require_all_contiguous("scale", x, y);
  be.scale(x, alpha, y);
}

template <Backend B, real_scalar T>
void axpy(B& be, T alpha, std::type_identity_t<const_view<T>> x, tensor_view<T> y) {
  detail::require_support(be, op_kind::axpy, dtype_of<T>);
  detail::require_same_shape("axpy", "x", x, "y", y);
  detail::require_all_contiguous("axpy", x, y);
  be.axpy(alpha, x, y);
}

template <Backend B, real_scalar T>
void fill(B& be, tensor_view<T> y, T value) {
  detail::require_support(be, op_kind::fill, dtype_of<T>);
  detail::require_contiguous("fill", "y", y);
  be.fill(y, value);
}

template <Backend B, real_scalar T>
void add_backward(B& be, std::type_identity_t<const_view<T>> dy, tensor_view<T> da, tensor_view<T> db) {
  scale<B, T>(be, dy, T(1), da);
  scale<B, T>(be, dy, T(1), db);
}

template <Backend B, real_scalar T>
void mul_backward(B& be, std::type_identity_t<const_view<T>> a, std::type_identity_t<const_view<T>> b,
                  std::type_identity_t<const_view<T>> dy, tensor_view<T> da, tensor_view<T> db) {
  mul<B, T>(be, dy, b, da);
  mul<B, T>(be, dy, a, db);
}

template <Backend B, real_scalar T>
void scale_backward(B& be, std::type_identity_t<const_view<T>> dy, T alpha, tensor_view<T> dx) {
  scale<B, T>(be, dy, alpha, dx);
}

}  // namespace lsk
