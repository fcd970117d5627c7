// lsk/concepts/position_encoding.hpp: what a rotary position encoding must provide.
//
// A position encoding says how fast each rotated pair of a query/key head turns
// with the position: inv_freq[i] radians per position for pair i, and a factor
// that multiplies cos and sin (Hugging Face's attention_scaling). The tables and
// the rope_forward/rope_backward ops (lsk/position/rope_table.hpp,
// lsk/ops/rope.hpp) turn that into rotated queries and keys.
//
// Semantic requirements (not checkable by the compiler; tests/unit/test_rope_*.cpp
// check the lsk encodings against Hugging Face transformers and each other):
//  1. rotary_dim() is even, 2 <= rotary_dim() <= head_dim(), and neither changes
//     over the object's life. The first rotary_dim() dims of a head rotate; the
//     rest pass through unchanged (partial_rotary_factor).
//  2. inv_freq(n) returns rotary_dim() / 2 finite, positive values; at position p
//     pair i turns by the angle p * inv_freq(n)[i] radians.
//  3. n is the current sequence length (the largest position + 1). n = 0 means
//     "not known yet" and gives the values a model starts with. Only types that
//     rescale with the length (dynamic NTK, LongRoPE) depend on n; inv_freq is a
//     pure function of (object, n): no hidden state, safe to call from threads.
//     Stateful rules built on it (Hugging Face's dynamic-NTK cache) live outside.
//  4. attention_factor() is finite and > 0 and does not depend on n; cos and sin
//     are both multiplied by it, so q.k scales by its square.
//  5. Copies are independent and compare equal in behaviour.
#pragma once

#include <concepts>
#include <vector>

#include "lsk/core/shape.hpp"

namespace lsk {

template <class P>
concept PositionEncoding = std::copy_constructible<P> && requires(const P& p, index_t n) {
  { p.head_dim() } -> std::same_as<index_t>;
  { p.rotary_dim() } -> std::same_as<index_t>;
  { p.inv_freq(n) } -> std::same_as<std::vector<double>>;
  { p.attention_factor() } -> std::same_as<double>;
};

}  // namespace lsk
