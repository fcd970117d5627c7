// lsk/model/llama_config.hpp: the shape of a Llama-architecture decoder.
//
// Field names follow Hugging Face's LlamaConfig (hidden_size, intermediate_size,
// num_hidden_layers, ...). The position encoding is configured separately (a
// position encoding object builds the model's rotary tables); only the pair
// layout of the rotation belongs to the weights and is stored here.
#pragma once

#include <cstdint>

#include "lsk/attention/kind.hpp"
#include "lsk/core/error.hpp"
#include "lsk/core/shape.hpp"
#include "lsk/ops/rope_layout.hpp"

namespace lsk::model {

struct llama_config {
  index_t vocab_size = 32000;
  index_t hidden_size = 4096;
  index_t intermediate_size = 11008;
  index_t num_hidden_layers = 32;
  index_t num_attention_heads = 32;
  index_t num_key_value_heads = 32;
  index_t head_dim = 0;  // 0: hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;
  index_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  std::int32_t bos_token_id = 1;
  std::int32_t eos_token_id = 2;
  rope_layout layout = rope_layout::rotate_half;  // how q/k weights pair dimensions
  // Runtime choice, not part of the weights or config.json: tiled keeps a
  // training step's activations linear in sequence length (lsk/attention/kind.hpp).
  attention::attention_kind attention = attention::attention_kind::naive;
  // Runtime choice: a training forward keeps only each layer's input and one
  // layer's activations, and backward recomputes each layer's activations from
  // its input before differentiating it (activation checkpointing per layer).
  // Activation memory falls from every layer's to one layer's for one more
  // forward of every layer but the last (less its down projection) per step;
  // results are the same bit for bit.
  bool recompute_activations = false;
  // Runtime choice: the LM head and the cross-entropy run over chunks of this
  // many tokens (0: all at once). Forward keeps each token's log-sum-exp, not
  // its logits; backward recomputes a chunk's logits (one more LM-head product
  // per step) and takes its gradient. Logits memory falls from tokens x vocab
  // (twice: logits and their gradient) to chunk x vocab; the results differ
  // from the whole head's only in the order the head's weight gradient is summed.
  index_t head_chunk_tokens = 0;

  index_t head_size() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  index_t q_size() const { return num_attention_heads * head_size(); }
  index_t kv_size() const { return num_key_value_heads * head_size(); }

  // Throws config_error naming the first inconsistent field.
  void validate() const {
    auto positive = [](const char* key, index_t v) {
      if (v <= 0) raise<config_error>("llama config: ", key, " must be positive, got ", v);
    };
    positive("vocab_size", vocab_size);
    positive("hidden_size", hidden_size);
    positive("intermediate_size", intermediate_size);
    positive("num_hidden_layers", num_hidden_layers);
    positive("num_attention_heads", num_attention_heads);
    positive("num_key_value_heads", num_key_value_heads);
    positive("max_position_embeddings", max_position_embeddings);
    if (num_attention_heads % num_key_value_heads != 0) {
      raise<config_error>("llama config: num_key_value_heads ", num_key_value_heads,
                          " must divide num_attention_heads ", num_attention_heads);
    }
    if (head_dim == 0 && hidden_size % num_attention_heads != 0) {
      raise<config_error>("llama config: hidden_size ", hidden_size, " is not a multiple of num_attention_heads ",
                          num_attention_heads, " (set head_dim)");
    }
    if (head_size() % 2 != 0) raise<config_error>("llama config: head_dim ", head_size(), " must be even for RoPE");
    if (head_chunk_tokens < 0) {
      raise<config_error>("llama config: head_chunk_tokens must be 0 (no chunks) or positive, got ", head_chunk_tokens);
    }
    if (!(rms_norm_eps > 0)) raise<config_error>("llama config: rms_norm_eps must be positive, got ", rms_norm_eps);
  }

  // Parameters (weights) in the model.
  index_t parameter_count() const {
    const index_t per_layer = 2 * hidden_size + hidden_size * (q_size() + 2 * kv_size()) + q_size() * hidden_size +
                              3 * hidden_size * intermediate_size;
    return vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2) + hidden_size + num_hidden_layers * per_layer;
  }
};

}  // namespace lsk::model
