// lsk/attention/context_parallel.hpp: an Attention for a model whose sequences
// are split over the P ranks of a communicator (context parallelism).
//
// Every rank holds, for each of its `batch` sequences, that sequence's zigzag
// shard (lsk/attention/ring.hpp: chunks r and 2P-1-r of 2P equal chunks), so
// the shape it is called with has q_len = k_len = seq_len / P. The layers
// around attention act token by token, so only attention needs the other
// ranks: forward and backward run ring_forward / ring_backward sequence by
// sequence over the communicator. The RoPE positions of a shard are the
// tokens' global positions (lsk/model/context_shard.hpp makes such batches),
// so the model computes what it computes on the whole sequence.
// Document masks: the mask holds the ids of the WHOLE sequences (batch *
// seq_len values; the model gathers them once per forward with
// model::gather_context_documents), since a rank's keys come from every shard.
// saved: the log-sum-exp (batch * q_len, heads), as the tiled attention's.
// Numerics: those of ring.hpp (f32 merges of the partial results); agrees with
// the tiled attention on the whole sequence to reassociation
// (tests/unit/test_dist.cpp).
// Every rank of the communicator must call forward/backward in the same order
// with the same shapes (collective), from one thread per rank.
#pragma once

#include <span>
#include <string_view>

#include "lsk/attention/ring.hpp"
#include "lsk/concepts/backend.hpp"
#include "lsk/dist/any_communicator.hpp"

namespace lsk::attention {

struct context_parallel_attention {
  static constexpr std::string_view name = "context-parallel";
  dist::any_communicator* comm = nullptr;  // the ranks that share each sequence
  tile_config tiles{};

  index_t saved_size(const attention_shape& s) const { return s.batch * s.q_len * s.heads; }
  index_t scratch_size(const attention_shape&) const { return 0; }

  template <Backend B, real_scalar T>
  void forward(B&, const attention_shape& s, const attention_mask& mask, std::type_identity_t<const_view<T>> q,
               std::type_identity_t<const_view<T>> k, std::type_identity_t<const_view<T>> v,
               std::type_identity_t<T> scale, tensor_view<T> saved, tensor_view<T> out) const {
    static_assert(B::memory == memory_space::host, "the context-parallel attention runs on host memory");
    const ring_shape rs = shape_of(s);
    for (index_t b = 0; b < s.batch; ++b) {
      const attention_mask global = sequence_mask(rs, s, mask, b);
      ring_forward<dist::any_communicator, T>(*comm, rs, global, rows(q, s, b, s.heads), rows(k, s, b, s.kv_heads),
                                              rows(v, s, b, s.kv_heads), scale, rows(out, s, b, s.heads),
                                              rows(saved, s, b, s.heads, 1), tiles);
    }
  }

  template <Backend B, real_scalar T>
  void backward(B&, const attention_shape& s, const attention_mask& mask, std::type_identity_t<const_view<T>> q,
                std::type_identity_t<const_view<T>> k, std::type_identity_t<const_view<T>> v,
                std::type_identity_t<const_view<T>> out, std::type_identity_t<const_view<T>> saved,
                std::type_identity_t<const_view<T>> dout, std::type_identity_t<T> scale, tensor_view<T>,
                tensor_view<T> dq, tensor_view<T> dk, tensor_view<T> dv) const {
    static_assert(B::memory == memory_space::host, "the context-parallel attention runs on host memory");
    const ring_shape rs = shape_of(s);
    for (index_t b = 0; b < s.batch; ++b) {
      const attention_mask global = sequence_mask(rs, s, mask, b);
      ring_backward<dist::any_communicator, T>(
          *comm, rs, global, rows(q, s, b, s.heads), rows(k, s, b, s.kv_heads), rows(v, s, b, s.kv_heads),
          rows(out, s, b, s.heads), rows(saved, s, b, s.heads, 1), rows(dout, s, b, s.heads), scale,
          rows(dq, s, b, s.heads), rows(dk, s, b, s.kv_heads), rows(dv, s, b, s.kv_heads), tiles);
    }
  }

 private:
  ring_shape shape_of(const attention_shape& s) const {
    if (comm == nullptr) raise<config_error>("context-parallel attention: no communicator");
    if (s.q_len != s.k_len) {
      raise<shape_error>("context-parallel attention: ", s.q_len, " queries and ", s.k_len,
                         " keys per shard (no KV cache: both are the shard's length)");
    }
    const ring_shape rs{s.q_len * comm->size(), s.heads, s.kv_heads, s.head_dim, comm->size()};
    rs.check();
    return rs;
  }

  // Sequence b's rows of a (batch * len, heads, head_dim) array (width 1: of a (batch * len, heads) one).
  template <class V>
  static auto rows(V x, const attention_shape& s, index_t b, index_t heads, index_t width = -1) {
    const auto n = static_cast<std::size_t>(s.q_len * heads * (width < 0 ? s.head_dim : width));
    return std::span(x.data() + static_cast<std::size_t>(b) * n, n);
  }

  // Sequence b's part of a mask over the whole sequences.
  static attention_mask sequence_mask(const ring_shape& rs, const attention_shape& s, const attention_mask& mask,
                                      index_t b) {
    if (!mask.by_document()) return causal_mask();
    if (mask.documents.numel() != s.batch * rs.seq_len) {
      raise<shape_error>("context-parallel attention: ", mask.documents.numel(), " document ids for ", s.batch,
                         " whole sequences of ", rs.seq_len, " tokens");
    }
    return document_mask(mask.documents.slice(b * rs.seq_len, (b + 1) * rs.seq_len));
  }
};

}  // namespace lsk::attention
