// lsk/concepts/attention.hpp: what an attention implementation must provide.
//
// An attention computes causal grouped-query attention (lsk/attention/mask.hpp
// for the visibility rules) for a backend, keeping between forward and backward
// only a `saved` buffer it sizes itself. The model allocates saved_size(shape)
// elements per layer and scratch_size(shape) once, so the attention decides
// whether a training step's activation memory is quadratic (naive: the
// probabilities) or linear (tiled: the log-sum-exp) in sequence length.
// Layout: q, out, dout, dq (batch * q_len, heads, head_dim); k, v, dk, dv
// (batch * k_len, kv_heads, head_dim); all contiguous.
//
// Semantic requirements (not checkable by the compiler; tests/unit/test_attention.cpp
// checks the lsk attentions against the naive one):
//  1. forward writes out = softmax(scale q k^T, masked) v for every query,
//     query head h reading kv head h / (heads / kv_heads), with the visibility
//     of lsk/attention/mask.hpp (causal, bottom-right aligned; documents when
//     the mask has them); it writes no more than saved_size(s) elements of saved.
//  2. backward, given the same s, mask, q, k, v, the out and saved of that
//     forward and dout, overwrites dq, dk, dv with the gradients of
//     sum(out * dout); it may use scratch_size(s) elements of scratch and does
//     not modify saved.
//  3. saved_size and scratch_size are pure functions of the shape.
//  4. An attention object is immutable during calls (const members): one
//     object can serve every layer and thread.
//  5. Results agree with lsk::attention::naive_attention to 1e-5 relative in
//     f32 (f64: 1e-12), and do not depend on the thread count beyond
//     floating-point reassociation.
#pragma once

#include <concepts>
#include <string_view>

#include "lsk/attention/mask.hpp"
#include "lsk/attention/shape.hpp"
#include "lsk/concepts/backend.hpp"

namespace lsk {

template <class A, class B, class T>
concept attention_for = Backend<B> &&
    requires(const A& a, B& be, const attention::attention_shape& s, const attention::attention_mask& m,
             const_view<T> x, T scale, tensor_view<T> y) {
  { a.saved_size(s) } -> std::same_as<index_t>;
  { a.scratch_size(s) } -> std::same_as<index_t>;
  { a.forward(be, s, m, x, x, x, scale, y, y) } -> std::same_as<void>;
  { a.backward(be, s, m, x, x, x, x, x, x, scale, y, y, y, y) } -> std::same_as<void>;
};

// An attention: a name, and forward/backward for f32 on backend B.
template <class A, class B>
concept Attention = requires {
  { A::name } -> std::convertible_to<std::string_view>;
}
&&attention_for<A, B, float>;

}  // namespace lsk
