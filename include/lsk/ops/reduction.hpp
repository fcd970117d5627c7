// lsk/ops/reduction.hpp: reductions and their gradients.
//
// sum(x) = sum_i x_i;  sum_squares(x) = sum_i x_i^2;  max_abs(x) = max_i |x_i|
// (returned as host doubles; backends accumulate in at least double precision
// or compensated float). sum_squares_total(xs) = sum over the tensors of
// sum_squares(x): a backend with a member of that name (the CUDA backend)
// returns it after one wait for the device instead of one per tensor; others
// add the per-tensor doubles in order.
// sum_rows(x (rows, n)) -> y (n): y_j = sum_r x[r, j].
// Gradients: sum -> dx = dy; sum_squares -> dx = 2 x dy;
// sum_rows -> dx[r, :] = dy[:] (broadcast_rows).
#pragma once

#include <vector>

#include "lsk/ops/check.hpp"

namespace lsk {

template <Backend B, class U>
double sum(B& be, tensor_view<U> x) {
  using T = std::remove_const_t<U>;
  detail::require_support(be, op_kind::sum, dtype_of<T>);
  detail::require_contiguous("sum", "x", x);
  return be.sum(const_view<T>(x));
}

template <Backend B, class U>
double sum_squares(B& be, tensor_view<U> x) {
  using T = std::remove_const_t<U>;
  detail::require_support(be, op_kind::sum_squares, dtype_of<T>);
  detail::require_contiguous("sum_squares", "x", x);
  return be.sum_squares(const_view<T>(x));
}

template <Backend B, real_scalar T>
double sum_squares_total(B& be, const std::vector<tensor_view<T>>& xs) {
  detail::require_support(be, op_kind::sum_squares, dtype_of<T>);
  std::vector<const_view<T>> views;
  views.reserve(xs.size());
  for (const auto& x : xs) {
    detail::require_contiguous("sum_squares_total", "x", x);
    views.emplace_back(x);
  }
  if constexpr (requires {
                  { be.sum_squares_total(views) } -> std::same_as<double>;
                }) {
    return be.sum_squares_total(views);
  } else {
    double total = 0;
    for (const auto& x : views) total += be.sum_squares(x);
    return total;
  }
}

template <Backend B, class U>
double max_abs(B& be, tensor_view<U> x) {
  using T = std::remove_const_t<U>;
  detail::require_support(be, op_kind::max_abs, dtype_of<T>);
  detail::require_contiguous("max_abs", "x", x);
  return be.max_abs(const_view<T>(x));
}

template <Backend B, real_scalar T>
void sum_rows(B& be, std::type_identity_t<const_view<T>> x, tensor_view<T> y) {
  constexpr std::string_view op = "sum_rows";
  detail::require_support(be, op_kind::sum_rows, dtype_of<T>);
  detail::require_rank(op, "x", x, 2);
  detail::require_numel(op, "y", y, x.dim(1));
  detail::require_all_contiguous(op, x, y);
  be.sum_rows(x, y);
}

template <Backend B, real_scalar T>
void broadcast_rows(B& be, std::type_identity_t<const_view<T>> row, tensor_view<T> y) {
  constexpr std::string_view op = "broadcast_rows";
  detail::require_support(be, op_kind::broadcast_rows, dtype_of<T>);
  detail::require_rank(op, "y", y, 2);
  detail::require_numel(op, "row", row, y.dim(1));
  detail::require_all_contiguous(op, row, y);
  be.broadcast_rows(row, y);
}

template <Backend B, real_scalar T>
void sum_backward(B& be, double dy, tensor_view<T> dx) {
  fill<B, T>(be, dx, static_cast<T>(dy));
}

template <Backend B, real_scalar T>
void sum_squares_backward(B& be, std::type_identity_t<const_view<T>> x, double dy, tensor_view<T> dx) {
  scale<B, T>(be, x, static_cast<T>(2.0 * dy), dx);
}

template <Backend B, real_scalar T>
void sum_rows_backward(B& be, std::type_identity_t<const_view<T>> dy, tensor_view<T> dx) {
  broadcast_rows<B, T>(be, dy, dx);
}

}  // namespace lsk
