// lsk/position/rope_table.hpp: precomputed cos/sin tables for the rope ops.
//
// Algorithm: for table row r holding position p_r and pair i,
//     cos[r, i] = attention_factor * cos(p_r * inv_freq[i])
//     sin[r, i] = attention_factor * sin(p_r * inv_freq[i])
// Layout: (row, pair) -> row * (rotary_dim / 2) + pair, the shape lsk::rope_forward takes.
// Two kinds of table:
//   - by position: rows 0 .. rows-1 hold positions 0 .. rows-1, and the op's
//     positions array holds each token's position (any order: document resets,
//     PoSE-style skips);
//   - per call: row t holds positions[t], and the op gets iota_positions(tokens).
// Numerics: angle, cos and sin in double, rounded to T once. Transformers forms
// the angle in float32, whose rounding grows with the position (about p * 6e-8
// radians); lsk's tables are the exact values rounded once.
// Tests: tests/unit/test_rope_golden.cpp (rotated q/k against transformers'
// apply_rotary_pos_emb), tests/unit/test_rope_properties.cpp and test_rope_op.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "lsk/concepts/position_encoding.hpp"
#include "lsk/core/tensor.hpp"

namespace lsk::position {

template <real_scalar T>
struct rope_table {
  tensor<T> cos;  // (rows, rotary_dim / 2)
  tensor<T> sin;  // (rows, rotary_dim / 2)
  index_t rows() const { return cos.dim(0); }
  index_t pairs() const { return cos.dim(1); }
};

namespace detail {
template <real_scalar T, class PositionOf>
rope_table<T> fill_rope_table(std::span<const double> inv_freq, double attention, index_t rows, PositionOf position) {
  const auto pairs = static_cast<index_t>(inv_freq.size());
  rope_table<T> t{tensor<T>(shape{rows, pairs}), tensor<T>(shape{rows, pairs})};
  for (index_t r = 0; r < rows; ++r) {
    const double p = static_cast<double>(position(r));
    for (index_t i = 0; i < pairs; ++i) {
      const double angle = p * inv_freq[static_cast<std::size_t>(i)];
      t.cos(r, i) = static_cast<T>(attention * std::cos(angle));
      t.sin(r, i) = static_cast<T>(attention * std::sin(angle));
    }
  }
  return t;
}
}  // namespace detail

// Rows 0 .. rows-1 for positions 0 .. rows-1.
template <real_scalar T>
rope_table<T> make_rope_table(std::span<const double> inv_freq, double attention_factor, index_t rows) {
  if (rows < 0) raise<shape_error>("make_rope_table: negative row count ", rows);
  return detail::fill_rope_table<T>(inv_freq, attention_factor, rows, [](index_t r) { return r; });
}

// One row per token: row t for positions[t] (each >= 0).
template <real_scalar T>
rope_table<T> make_rope_table(std::span<const double> inv_freq, double attention_factor,
                              const_view<std::int32_t> positions) {
  const auto pos = positions.span();
  for (std::size_t t = 0; t < pos.size(); ++t) {
    if (pos[t] < 0) raise<index_error>("make_rope_table: position ", pos[t], " of token ", t, " is negative");
  }
  return detail::fill_rope_table<T>(inv_freq, attention_factor, positions.numel(),
                                    [&](index_t r) { return pos[static_cast<std::size_t>(r)]; });
}

// Positions 0 .. rows-1 of encoding `enc` at sequence length seq_len (0: the
// values a model starts with; only dynamic NTK and LongRoPE depend on it).
template <real_scalar T, PositionEncoding P>
rope_table<T> make_rope_table(const P& enc, index_t rows, index_t seq_len = 0) {
  const std::vector<double> f = enc.inv_freq(seq_len);
  return make_rope_table<T>(std::span<const double>(f), enc.attention_factor(), rows);
}

// One row per token, for the positions of one call. seq_len defaults to the
// largest position + 1, the length transformers uses for that call.
template <real_scalar T, PositionEncoding P>
rope_table<T> make_rope_table(const P& enc, const_view<std::int32_t> positions,
                              std::optional<index_t> seq_len = std::nullopt) {
  const auto pos = positions.span();
  const index_t n = seq_len ? *seq_len : (pos.empty() ? 0 : index_t{*std::max_element(pos.begin(), pos.end())} + 1);
  const std::vector<double> f = enc.inv_freq(n);
  return make_rope_table<T>(std::span<const double>(f), enc.attention_factor(), positions);
}

// 0, 1, ..., n-1: the positions argument of the ops for a per-call table.
inline tensor<std::int32_t> iota_positions(index_t n) {
  tensor<std::int32_t> t(shape{n});
  for (index_t i = 0; i < n; ++i) t(i) = static_cast<std::int32_t>(i);
  return t;
}

}  // namespace lsk::position
