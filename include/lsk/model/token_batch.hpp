// lsk/model/token_batch.hpp: a batch of equal-length token sequences with
// next-token targets, a loss mask and explicit positions.
//
// Layout: every tensor is (batch * seq_len), sequence-major. positions[t] is
// the RoPE position of token t (0..seq_len-1 by default; document resets or
// skips are allowed). targets[t] is the token to predict after token t; the
// loss counts only tokens with loss_mask[t] != 0 (targets there may be -1).
// documents (optional; empty by default) holds a document id per token: when
// set, attention is masked so that no token attends across a document boundary
// of a packed sequence (lsk/attention/mask.hpp); when empty, every sequence is
// one causal stream (chunks of different documents do attend to each other).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

#include "lsk/core/tensor.hpp"

namespace lsk::model {

struct token_batch {
  index_t batch = 0, seq_len = 0;
  tensor<std::int32_t> tokens, targets, positions;
  tensor<std::uint8_t> loss_mask;
  tensor<std::int32_t> documents;  // empty, or (batch * seq_len) document ids

  token_batch() = default;
  token_batch(index_t batch_size, index_t length)
      : batch(batch_size),
        seq_len(length),
        tokens(shape{batch_size * length}),
        targets(shape{batch_size * length}),
        positions(shape{batch_size * length}),
        loss_mask(shape{batch_size * length}, std::uint8_t{1}) {
    for (index_t b = 0; b < batch_size; ++b)
      for (index_t t = 0; t < length; ++t) positions(b * length + t) = static_cast<std::int32_t>(t);
  }

  index_t size() const { return batch * seq_len; }

  // A copy whose tensors live in `memory` (nullptr: on the host).
  token_batch to(device_memory* memory) const {
    token_batch out;
    out.batch = batch;
    out.seq_len = seq_len;
    out.tokens = tokens.to(memory);
    out.targets = targets.to(memory);
    out.positions = positions.to(memory);
    out.loss_mask = loss_mask.to(memory);
    if (has_documents()) out.documents = documents.to(memory);
    return out;
  }

  // Next-token prediction over stream[0 .. seq_len] for sequence b: tokens are
  // stream[0..seq_len), targets stream[1..seq_len].
  void set_sequence(index_t b, std::span<const std::int32_t> stream) {
    if (static_cast<index_t>(stream.size()) < seq_len + 1) {
      raise<shape_error>("token_batch: sequence ", b, " needs ", seq_len + 1, " tokens, got ", stream.size());
    }
    for (index_t t = 0; t < seq_len; ++t) {
      tokens(b * seq_len + t) = stream[static_cast<std::size_t>(t)];
      targets(b * seq_len + t) = stream[static_cast<std::size_t>(t + 1)];
      loss_mask(b * seq_len + t) = 1;
    }
  }

  bool has_documents() const { return !documents.empty(); }

  // Packs sequence b as consecutive documents of the given lengths (summing to
  // seq_len): document ids 0, 1, ... and positions restarting at 0 in each.
  void set_documents(index_t b, std::span<const index_t> lengths) {
    index_t total = 0;
    for (index_t n : lengths) {
      if (n <= 0) raise<shape_error>("token_batch: document lengths must be positive, got ", n);
      total += n;
    }
    if (total != seq_len) raise<shape_error>("token_batch: document lengths sum to ", total, ", not ", seq_len);
    if (!has_documents()) documents = tensor<std::int32_t>(shape{size()}, 0);
    index_t t = b * seq_len;
    std::int32_t doc = 0;
    for (index_t n : lengths) {
      for (index_t i = 0; i < n; ++i, ++t) {
        documents(t) = doc;
        positions(t) = static_cast<std::int32_t>(i);
      }
      ++doc;
    }
  }

  // Sequences [first, first + count) as a batch of their own (a copy).
  token_batch rows(index_t first, index_t count) const {
    if (first < 0 || count <= 0 || first + count > batch) {
      raise<shape_error>("token_batch: rows [", first, ", ", first + count, ") of a batch of ", batch);
    }
    token_batch out(count, seq_len);
    const auto copy = [&](const auto& from, auto& to) {
      const auto begin = from.values().begin() + first * seq_len;
      std::copy(begin, begin + count * seq_len, to.values().begin());
    };
    copy(tokens, out.tokens);
    copy(targets, out.targets);
    copy(positions, out.positions);
    copy(loss_mask, out.loss_mask);
    if (has_documents()) {
      out.documents = tensor<std::int32_t>(shape{out.size()}, 0);
      copy(documents, out.documents);
    }
    return out;
  }

  index_t valid_tokens() const {
    index_t n = 0;
    for (auto m : loss_mask.values()) n += m != 0;
    return n;
  }
};

}  // namespace lsk::model
