// lsk/testing/tiny_llama.hpp: small Llama models and deterministic batches for
// tests that train, e.g. a backend's model against the cpu backend's, or a
// model in device memory against one on the host.
//
// tiny_llama_config: 4 query heads, 2 key/value heads of head_dim, hidden
// 4 head_dim, intermediate 8 head_dim, 2 layers, default RoPE. tiny_llama:
// that model with seeded weights (normal, std 0.1) and rotary tables for
// max_positions. patterned_batch: `rows` sequences of `len` tokens, sequence s
// of micro-batch `micro` at step `step` the arithmetic pattern
// (start + t (1 + s)) mod vocab with start = 7 step + 3 micro + s; token
// `micro` is masked, so micro-batches differ in their valid counts. A pure
// function of its arguments (what the trainer asks of batches).
#pragma once

#include <cstdint>
#include <vector>

#include "lsk/model/hf_checkpoint.hpp"
#include "lsk/model/llama.hpp"
#include "lsk/position/rope.hpp"

namespace lsk::testing {

inline model::hf_config tiny_llama_config(index_t vocab = 30, index_t head_dim = 4, index_t max_positions = 32) {
  model::hf_config c;
  c.model.vocab_size = vocab;
  c.model.num_attention_heads = 4;
  c.model.num_key_value_heads = 2;
  c.model.hidden_size = 4 * head_dim;
  c.model.intermediate_size = 8 * head_dim;
  c.model.num_hidden_layers = 2;
  c.model.max_position_embeddings = max_positions;
  c.rope.head_dim = head_dim;
  c.rope.max_position_embeddings = max_positions;
  return c;
}

inline model::llama<float> tiny_llama(const model::hf_config& c, std::uint64_t seed = 21) {
  rng g(seed);
  model::llama_weights<float> w(c.model);
  w.init(g, 0.1);
  model::llama<float> m(c.model, std::move(w));
  m.set_position_encoding(position::rope(c.rope), c.model.max_position_embeddings);
  return m;
}

inline model::token_batch patterned_batch(std::int64_t step, index_t micro, index_t len, index_t vocab,
                                          index_t rows = 2) {
  model::token_batch b(rows, len);
  std::vector<std::int32_t> stream(static_cast<std::size_t>(len + 1));
  for (index_t s = 0; s < rows; ++s) {
    const auto start = static_cast<std::int32_t>((step * 7 + micro * 3 + s) % vocab);
    for (std::size_t t = 0; t < stream.size(); ++t)
      stream[t] = static_cast<std::int32_t>((start + static_cast<std::int64_t>(t) * (1 + s)) % vocab);
    b.set_sequence(s, stream);
  }
  b.loss_mask(micro) = 0;
  return b;
}

}  // namespace lsk::testing
