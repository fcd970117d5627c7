// lsk/attention/naive.hpp: causal multi-head attention with grouped-query heads,
// materialising the score matrix. The oracle for faster attentions, and the
// attention of short-context training and KV-cache decoding.
//
// Layout: q (batch * q_len, heads, head_dim), k and v (batch * k_len, kv_heads,
// head_dim), out like q; probabilities (batch, heads, q_len, k_len) are kept
// for backward. Query head h reads kv head h / (heads / kv_heads); K and V are
// never copied per query head: the heads of one group form one batched matmul
// against a broadcast K (or V) matrix.
// Algorithm: S = scale * Q K^T; P = causal softmax(S) (query i sees keys
// j <= i + k_len - q_len); O = P V. Backward: dP = dO V^T, dV = sum_h P^T dO,
// dS = softmax'(P, dP), dQ = scale dS K, dK = scale sum_h dS^T Q.
// Numerics: the backend's matmul and softmax (max-subtracted). Memory is
// quadratic in length: heads * q_len * k_len scores per sequence.
#pragma once

#include <cmath>

#include "lsk/ops.hpp"

namespace lsk::attention {

struct attention_shape {
  index_t batch = 1, q_len = 0, k_len = 0, heads = 1, kv_heads = 1, head_dim = 0;
  index_t group() const { return heads / kv_heads; }
};

namespace detail {
// The (group, len, head_dim) view of heads [h0, h0 + group) of sequence b in a
// (batch * len, heads_total, head_dim) tensor: batch stride head_dim, row pitch heads_total * head_dim.
template <class T>
tensor_view<T> heads_of(tensor_view<T> x, index_t b, index_t len, index_t h0, index_t count) {
  const index_t heads_total = x.dim(1), d = x.dim(2);
  return tensor_view<T>(x.data() + (b * len * heads_total + h0) * d, shape{count, len, d},
                        shape{d, heads_total * d, 1});
}
template <class T>
tensor_view<T> head_of(tensor_view<T> x, index_t b, index_t len, index_t h) {
  const index_t heads_total = x.dim(1), d = x.dim(2);
  return tensor_view<T>(x.data() + (b * len * heads_total + h) * d, shape{len, d}, shape{heads_total * d, 1});
}
template <class T>
tensor_view<T> probs_of(tensor_view<T> p, index_t b, index_t h0, index_t count) {
  return tensor_view<T>(p.data() + (b * p.dim(1) + h0) * p.dim(2) * p.dim(3), shape{count, p.dim(2), p.dim(3)});
}
}  // namespace detail

inline void check_attention_shape(const attention_shape& s) {
  if (s.heads <= 0 || s.kv_heads <= 0 || s.heads % s.kv_heads != 0) {
    raise<shape_error>("attention: kv_heads ", s.kv_heads, " must divide heads ", s.heads);
  }
  if (s.k_len < s.q_len) raise<shape_error>("attention: ", s.k_len, " keys for ", s.q_len, " queries");
}

// probs: (batch, heads, q_len, k_len) scratch kept for backward.
template <Backend B, real_scalar T>
void naive_forward(B& be, const attention_shape& s, const_view<T> q, const_view<T> k, const_view<T> v, T scale,
                   tensor_view<T> probs, tensor_view<T> out) {
  check_attention_shape(s);
  const index_t r = s.group();
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t g = 0; g < s.kv_heads; ++g) {
      auto p = detail::probs_of(probs, b, g * r, r);
      matmul<B, T>(be, detail::heads_of(q, b, s.q_len, g * r, r), detail::head_of(k, b, s.k_len, g).transpose(), p);
    }
  }
  causal_softmax_forward<B, T>(be, probs, scale, probs);
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t g = 0; g < s.kv_heads; ++g) {
      matmul<B, T>(be, detail::probs_of(probs, b, g * r, r), detail::head_of(v, b, s.k_len, g),
                   detail::heads_of(out, b, s.q_len, g * r, r));
    }
  }
}

// Writes dq, dk, dv (overwriting). dprobs: scratch shaped like probs.
template <Backend B, real_scalar T>
void naive_backward(B& be, const attention_shape& s, const_view<T> q, const_view<T> k, const_view<T> v,
                    const_view<T> probs, const_view<T> dout, T scale, tensor_view<T> dprobs, tensor_view<T> dq,
                    tensor_view<T> dk, tensor_view<T> dv) {
  check_attention_shape(s);
  const index_t r = s.group();
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t g = 0; g < s.kv_heads; ++g) {
      // O = P V: dP = dO V^T, dV = sum over the group's heads of P^T dO.
      matmul_backward<B, T>(be, detail::probs_of(probs, b, g * r, r), detail::head_of(v, b, s.k_len, g),
                            detail::heads_of(dout, b, s.q_len, g * r, r), detail::probs_of(dprobs, b, g * r, r),
                            detail::head_of(dv, b, s.k_len, g));
    }
  }
  softmax_backward<B, T>(be, probs, dprobs, scale, dprobs);
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t g = 0; g < s.kv_heads; ++g) {
      // S = Q K^T: dQ = dS K, dK = sum over the group's heads of dS^T Q.
      matmul_backward<B, T>(be, detail::heads_of(q, b, s.q_len, g * r, r),
                            detail::head_of(k, b, s.k_len, g).transpose(), detail::probs_of(dprobs, b, g * r, r),
                            detail::heads_of(dq, b, s.q_len, g * r, r), detail::head_of(dk, b, s.k_len, g).transpose());
    }
  }
}

}  // namespace lsk::attention
