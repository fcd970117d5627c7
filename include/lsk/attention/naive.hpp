// lsk/attention/naive.hpp: causal multi-head attention with grouped-query heads,
// materialising the score matrix. The oracle for faster attentions, and the
// attention of short-context training and KV-cache decoding.
//
// Layout: q (batch * q_len, heads, head_dim), k and v (batch * k_len, kv_heads,
// head_dim), out like q; probabilities (batch, heads, q_len, k_len) are kept
// for backward. Query head h reads kv head h / (heads / kv_heads); nothing is
// copied: every product is a batched matmul over strided views, one per
// sequence and kv head or one per query head (naive_products below).
// Algorithm: S = scale * Q K^T; P = causal softmax(S) (query i sees keys
// j <= i + k_len - q_len); O = P V. Backward: dP = dO V^T, dV = sum_h P^T dO,
// dS = softmax'(P, dP), dQ = scale dS K, dK = scale sum_h dS^T Q.
// Numerics: the backend's matmul and softmax (max-subtracted). Memory is
// quadratic in length: heads * q_len * k_len scores per sequence.
#pragma once

#include <cmath>
#include <string_view>
#include <type_traits>

#include "lsk/attention/mask.hpp"
#include "lsk/attention/shape.hpp"
#include "lsk/ops.hpp"

namespace lsk::attention {

// How the products are grouped into backend matmul calls (results agree to
// rounding; which is faster depends on the shape):
//   per_sequence: for each sequence and kv head, one product batched over the
//     group's query heads against the broadcast K (or V) matrix:
//     batch * kv_heads calls a product site (more in backward: a broadcast
//     operand's gradient is summed head by head);
//   per_head: for each query head, one product batched over the sequences:
//     heads calls a product site;
//   automatic: per_head when heads < batch * kv_heads (fewer calls), else
//     per_sequence. Training batches (many sequences) take per_head; decoding
//     one sequence takes per_sequence. Fewer, larger calls matter on a device,
//     where each call costs a launch (and, with bf16 products, packing).
enum class naive_products { automatic, per_sequence, per_head };

inline naive_products resolve(naive_products p, const attention_shape& s) {
  if (p != naive_products::automatic) return p;
  return s.heads < s.batch * s.kv_heads ? naive_products::per_head : naive_products::per_sequence;
}

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
// Head h of every sequence, (batch, len, head_dim): batch stride len * heads_total * head_dim.
template <class T>
tensor_view<T> head_in_all(tensor_view<T> x, index_t batch, index_t len, index_t h) {
  const index_t heads_total = x.dim(1), d = x.dim(2);
  return tensor_view<T>(x.data() + h * d, shape{batch, len, d}, shape{len * heads_total * d, heads_total * d, 1});
}
// The probabilities of head h in every sequence, (batch, q_len, k_len).
template <class T>
tensor_view<T> probs_in_all(tensor_view<T> p, index_t h) {
  const index_t per_head = p.dim(2) * p.dim(3);
  return tensor_view<T>(p.data() + h * per_head, shape{p.dim(0), p.dim(2), p.dim(3)},
                        shape{p.dim(1) * per_head, p.dim(3), 1});
}

// S = Q K^T into probs, for every sequence and head.
template <Backend B, real_scalar T>
void score_products(B& be, const attention_shape& s, naive_products grouping, const_view<T> q, const_view<T> k,
                    tensor_view<T> probs) {
  const index_t r = s.group();
  if (grouping == naive_products::per_head) {
    for (index_t h = 0; h < s.heads; ++h) {
      matmul<B, T>(be, head_in_all(q, s.batch, s.q_len, h), head_in_all(k, s.batch, s.k_len, h / r).transpose(),
                   probs_in_all(probs, h));
    }
    return;
  }
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t g = 0; g < s.kv_heads; ++g) {
      matmul<B, T>(be, heads_of(q, b, s.q_len, g * r, r), head_of(k, b, s.k_len, g).transpose(),
                   probs_of(probs, b, g * r, r));
    }
  }
}

// O = P V, for every sequence and head.
template <Backend B, real_scalar T>
void value_products(B& be, const attention_shape& s, naive_products grouping, const_view<T> probs, const_view<T> v,
                    tensor_view<T> out) {
  const index_t r = s.group();
  if (grouping == naive_products::per_head) {
    for (index_t h = 0; h < s.heads; ++h) {
      matmul<B, T>(be, probs_in_all(probs, h), head_in_all(v, s.batch, s.k_len, h / r),
                   head_in_all(out, s.batch, s.q_len, h));
    }
    return;
  }
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t g = 0; g < s.kv_heads; ++g) {
      matmul<B, T>(be, probs_of(probs, b, g * r, r), head_of(v, b, s.k_len, g), heads_of(out, b, s.q_len, g * r, r));
    }
  }
}
}  // namespace detail

// probs: (batch, heads, q_len, k_len) scratch kept for backward.
template <Backend B, real_scalar T>
void naive_forward(B& be, const attention_shape& s, const_view<T> q, const_view<T> k, const_view<T> v, T scale,
                   tensor_view<T> probs, tensor_view<T> out, naive_products grouping = naive_products::automatic) {
  check_attention_shape(s);
  grouping = resolve(grouping, s);
  detail::score_products<B, T>(be, s, grouping, q, k, probs);
  causal_softmax_forward<B, T>(be, probs, scale, probs);
  detail::value_products<B, T>(be, s, grouping, probs, v, out);
}

template <Backend B, real_scalar T>
void naive_document_forward(B& be, const attention_shape& s, const attention_mask& mask, const_view<T> q,
                            const_view<T> k, const_view<T> v, T scale, tensor_view<T> probs, tensor_view<T> out,
                            naive_products grouping);

// With a document mask (lsk/attention/mask.hpp): scores of query/key pairs in
// different documents are set to -inf before the causal softmax, so their
// probabilities are exactly 0 (and so are their gradients in naive_backward).
// Host-memory backends only (the mask is applied in place on the host); a
// device backend gets an unsupported_error.
template <Backend B, real_scalar T>
void naive_forward(B& be, const attention_shape& s, const attention_mask& mask, const_view<T> q, const_view<T> k,
                   const_view<T> v, T scale, tensor_view<T> probs, tensor_view<T> out,
                   naive_products grouping = naive_products::automatic) {
  if (!mask.by_document()) {
    naive_forward<B, T>(be, s, q, k, v, scale, probs, out, grouping);
    return;
  }
  if constexpr (B::memory != memory_space::host) {
    raise<unsupported_error>("naive attention: document masks need a host-memory backend (", B::name,
                             " keeps its memory on a device); use the backend's fused attention");
  } else {
    naive_document_forward<B, T>(be, s, mask, q, k, v, scale, probs, out, grouping);
  }
}

template <Backend B, real_scalar T>
void naive_document_forward(B& be, const attention_shape& s, const attention_mask& mask, const_view<T> q,
                            const_view<T> k, const_view<T> v, T scale, tensor_view<T> probs, tensor_view<T> out,
                            naive_products grouping) {
  check_attention_shape(s);
  if (mask.documents.numel() != s.batch * s.k_len) {
    raise<shape_error>("attention: ", mask.documents.numel(), " document ids for ", s.batch, " x ", s.k_len, " keys");
  }
  grouping = resolve(grouping, s);
  detail::score_products<B, T>(be, s, grouping, q, k, probs);
  const std::int32_t* docs = mask.documents.data();
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t h = 0; h < s.heads; ++h) {
      for (index_t i = 0; i < s.q_len; ++i) {
        const std::int32_t doc = docs[b * s.k_len + i + s.k_len - s.q_len];
        T* row = probs.data() + ((b * s.heads + h) * s.q_len + i) * s.k_len;
        for (index_t j = 0; j < s.k_len; ++j)
          if (docs[b * s.k_len + j] != doc) row[j] = minus_infinity<T>;
      }
    }
  }
  causal_softmax_forward<B, T>(be, probs, scale, probs);
  detail::value_products<B, T>(be, s, grouping, probs, v, out);
}

// Writes dq, dk, dv (overwriting). dprobs: scratch shaped like probs.
template <Backend B, real_scalar T>
void naive_backward(B& be, const attention_shape& s, const_view<T> q, const_view<T> k, const_view<T> v,
                    const_view<T> probs, const_view<T> dout, T scale, tensor_view<T> dprobs, tensor_view<T> dq,
                    tensor_view<T> dk, tensor_view<T> dv, naive_products grouping = naive_products::automatic) {
  check_attention_shape(s);
  using namespace detail;
  const index_t r = s.group();
  grouping = resolve(grouping, s);
  if (grouping == naive_products::per_head) {
    // The heads of a group add their dK, dV contributions in head order.
    for (index_t h = 0; h < s.heads; ++h) {
      const T beta = h % r == 0 ? T(0) : T(1);
      const auto dout_h = head_in_all(dout, s.batch, s.q_len, h);
      matmul<B, T>(be, dout_h, head_in_all(v, s.batch, s.k_len, h / r).transpose(), probs_in_all(dprobs, h));
      matmul<B, T>(be, probs_in_all(probs, h).transpose(), dout_h, head_in_all(dv, s.batch, s.k_len, h / r), T(1),
                   beta);
    }
    softmax_backward<B, T>(be, probs, dprobs, scale, dprobs);
    for (index_t h = 0; h < s.heads; ++h) {
      const T beta = h % r == 0 ? T(0) : T(1);
      const auto ds_h = probs_in_all(dprobs, h);
      matmul<B, T>(be, ds_h, head_in_all(k, s.batch, s.k_len, h / r), head_in_all(dq, s.batch, s.q_len, h));
      matmul<B, T>(be, ds_h.transpose(), head_in_all(q, s.batch, s.q_len, h), head_in_all(dk, s.batch, s.k_len, h / r),
                   T(1), beta);
    }
    return;
  }
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t g = 0; g < s.kv_heads; ++g) {
      // O = P V: dP = dO V^T, dV = sum over the group's heads of P^T dO.
      matmul_backward<B, T>(be, probs_of(probs, b, g * r, r), head_of(v, b, s.k_len, g),
                            heads_of(dout, b, s.q_len, g * r, r), probs_of(dprobs, b, g * r, r),
                            head_of(dv, b, s.k_len, g));
    }
  }
  softmax_backward<B, T>(be, probs, dprobs, scale, dprobs);
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t g = 0; g < s.kv_heads; ++g) {
      // S = Q K^T: dQ = dS K, dK = sum over the group's heads of dS^T Q.
      matmul_backward<B, T>(be, heads_of(q, b, s.q_len, g * r, r), head_of(k, b, s.k_len, g).transpose(),
                            probs_of(dprobs, b, g * r, r), heads_of(dq, b, s.q_len, g * r, r),
                            head_of(dk, b, s.k_len, g).transpose());
    }
  }
}

// The naive attention as an lsk::Attention (lsk/concepts/attention.hpp): the
// saved state is the probabilities (batch, heads, q_len, k_len), the backward
// scratch their gradient; both quadratic in length. The test oracle.
struct naive_attention {
  static constexpr std::string_view name = "naive";
  naive_products products = naive_products::automatic;

  index_t saved_size(const attention_shape& s) const { return s.batch * s.heads * s.q_len * s.k_len; }
  index_t scratch_size(const attention_shape& s) const { return saved_size(s); }

  template <Backend B, real_scalar T>
  void forward(B& be, const attention_shape& s, const attention_mask& mask, std::type_identity_t<const_view<T>> q,
               std::type_identity_t<const_view<T>> k, std::type_identity_t<const_view<T>> v,
               std::type_identity_t<T> scale, tensor_view<T> saved, tensor_view<T> out) const {
    naive_forward<B, T>(be, s, mask, q, k, v, scale, probs_view(saved, s), out, products);
  }

  template <Backend B, real_scalar T>
  void backward(B& be, const attention_shape& s, const attention_mask&, std::type_identity_t<const_view<T>> q,
                std::type_identity_t<const_view<T>> k, std::type_identity_t<const_view<T>> v,
                std::type_identity_t<const_view<T>>, std::type_identity_t<const_view<T>> saved,
                std::type_identity_t<const_view<T>> dout, std::type_identity_t<T> scale, tensor_view<T> scratch,
                tensor_view<T> dq, tensor_view<T> dk, tensor_view<T> dv) const {
    naive_backward<B, T>(be, s, q, k, v, probs_view(saved, s), dout, scale, probs_view(scratch, s), dq, dk, dv,
                         products);
  }

 private:
  template <class T>
  static tensor_view<T> probs_view(tensor_view<T> flat, const attention_shape& s) {
    if (flat.numel() < s.batch * s.heads * s.q_len * s.k_len) {
      raise<shape_error>("naive attention: ", flat.numel(), " saved elements for ", s.batch, " x ", s.heads, " x ",
                         s.q_len, " x ", s.k_len, " probabilities");
    }
    return tensor_view<T>(flat.data(), shape{s.batch, s.heads, s.q_len, s.k_len});
  }
};

}  // namespace lsk::attention
