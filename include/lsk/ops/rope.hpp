// lsk/ops/rope.hpp: rotary position embedding (RoPE) applied to queries or keys, and its gradient.
//
// Layouts (CuTe style, offsets in elements):
//   x, y:      (token, head, dim) -> (token * heads + head) * head_dim + dim
//   positions: (token) -> token; positions[t] is a row of the tables
//   cos, sin:  (row, pair) -> row * half + pair, rotary_dim = 2 * half <= head_dim
// Tables come from lsk/position/rope_table.hpp: either one row per position
// 0..max_pos-1 (positions are then the token positions, in any order: document
// resets, PoSE-style skips), or one row per token of this call (positions are
// then 0..tokens-1).
//
// rope_forward: for pair i of every head (dims per rope_layout), with
// c = cos[positions[t], i] and s = sin[positions[t], i]:
//     y_a = x_a c - x_b s,    y_b = x_b c + x_a s;    dims >= rotary_dim copied.
// The tables already carry the attention factor (Hugging Face multiplies cos
// and sin by it), so the rotation is a rotation scaled by that factor.
// rope_backward: the transpose, dx_a = dy_a c + dy_b s, dx_b = dy_b c - dy_a s
// (overwrites dx).
// Both may run in place (y the same view as x, dx the same as dy); no other
// aliasing is allowed. Positions outside the tables throw index_error naming
// the token (checked on the host for host-memory backends).
//
// Numerics and tests: see the backends (reference: double; cpu: input
// precision); the conformance suite (op case "rope" in lsk/testing/op_cases.hpp)
// compares every backend with the reference and the f64 backward with finite
// differences; tests/unit/test_rope_*.cpp compare with Hugging Face transformers.
#pragma once

#include <cstdint>
#include <functional>

#include "lsk/ops/check.hpp"
#include "lsk/ops/rope_layout.hpp"

namespace lsk {
namespace detail {
// positions in host memory (also checked by models whose device ops cannot).
inline void check_positions_on_host(std::string_view op, const_view<std::int32_t> positions, index_t rows) {
  const auto pos = positions.span();
  for (std::size_t t = 0; t < pos.size(); ++t) {
    if (pos[t] < 0 || pos[t] >= rows) {
      raise<index_error>(op, ": position ", pos[t], " of token ", t, " is outside the tables' ", rows, " rows");
    }
  }
}

template <Backend B, class T>
void check_rope_args(std::string_view op, const_view<T> x, const_view<std::int32_t> positions, const_view<T> cos,
                     const_view<T> sin, const tensor_view<T>& y) {
  require_rank(op, "x", x, 3);
  require_same_shape(op, "x", x, "output", y);
  require_rank(op, "cos", cos, 2);
  require_same_shape(op, "cos", cos, "sin", sin);
  require_numel(op, "positions", positions, x.dim(0));
  if (cos.dim(1) < 1 || 2 * cos.dim(1) > x.dim(2)) {
    raise<shape_error>(op, ": tables ", cos.extents().str(), " give a rotary dimension of ", 2 * cos.dim(1),
                       ", which must be in [2, head_dim = ", x.dim(2), "]");
  }
  require_all_contiguous(op, x, positions, cos, sin, y);
  if (y.data() != x.data() && x.numel() > 0) {
    const std::less<const T*> before;
    if (before(x.data(), y.data() + y.numel()) && before(y.data(), x.data() + x.numel())) {
      raise<shape_error>(op, ": the output overlaps the input without being the same view");
    }
  }
  if constexpr (B::memory == memory_space::host) check_positions_on_host(op, positions, cos.dim(0));
}
}  // namespace detail

template <Backend B, real_scalar T>
void rope_forward(B& be, std::type_identity_t<const_view<T>> x, const_view<std::int32_t> positions,
                  std::type_identity_t<const_view<T>> cos, std::type_identity_t<const_view<T>> sin, rope_layout layout,
                  tensor_view<T> y) {
  constexpr std::string_view op = "rope_forward";
  detail::require_support(be, op_kind::rope_forward, dtype_of<T>);
  detail::check_rope_args<B, T>(op, x, positions, cos, sin, y);
  be.rope_forward(x, positions, cos, sin, layout, y);
}

template <Backend B, real_scalar T>
void rope_backward(B& be, std::type_identity_t<const_view<T>> dy, const_view<std::int32_t> positions,
                   std::type_identity_t<const_view<T>> cos, std::type_identity_t<const_view<T>> sin, rope_layout layout,
                   tensor_view<T> dx) {
  constexpr std::string_view op = "rope_backward";
  detail::require_support(be, op_kind::rope_backward, dtype_of<T>);
  detail::check_rope_args<B, T>(op, dy, positions, cos, sin, dx);
  be.rope_backward(dy, positions, cos, sin, layout, dx);
}

}  // namespace lsk
