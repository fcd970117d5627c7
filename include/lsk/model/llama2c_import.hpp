// lsk/model/llama2c_import.hpp: a llama2.c checkpoint as a Llama model
// configuration and weights (what `lsk convert` writes as an HF directory).
//
// llama2.c fixes what its header leaves out: rms_norm_eps 1e-5, rope_theta
// 10000, max_position_embeddings = seq_len, BOS 1 / EOS 2, and the classifier
// shared with the embedding when vocab_size is positive. Its q/k weights pair
// dimensions for RoPE interleaved; `layout` chooses to keep that (the model then
// rotates interleaved pairs) or to permute the rows to Hugging Face's
// rotate-half layout. Both compute the same logits.
#pragma once

#include <filesystem>

#include "lsk/io/llama2c.hpp"
#include "lsk/model/hf_checkpoint.hpp"

namespace lsk::model {

inline hf_checkpoint<float> import_llama2c(const std::filesystem::path& path,
                                           rope_layout layout = rope_layout::rotate_half) {
  io::llama2c::checkpoint ck = io::llama2c::read(path);
  if (layout == rope_layout::rotate_half) io::llama2c::convert_qk_to_rotate_half(ck);
  const auto& h = ck.header;
  hf_checkpoint<float> out;
  auto& m = out.config.model;
  m.vocab_size = h.vocab_size;
  m.hidden_size = h.dim;
  m.intermediate_size = h.hidden_dim;
  m.num_hidden_layers = h.n_layers;
  m.num_attention_heads = h.n_heads;
  m.num_key_value_heads = h.n_kv_heads;
  m.rms_norm_eps = 1e-5;
  m.max_position_embeddings = h.seq_len;
  m.tie_word_embeddings = h.shared_classifier;
  m.bos_token_id = 1;
  m.eos_token_id = 2;
  m.layout = layout;
  m.validate();
  out.config.rope.theta = 10000.0;
  out.config.rope.head_dim = m.head_size();
  out.config.rope.max_position_embeddings = m.max_position_embeddings;
  out.weights = llama_weights<float>(m);
  out.weights.for_each([&](const std::string& name, tensor<float>& t) {
    const tensor<float>& src = ck.weight(name);
    if (!(src.extents() == t.extents())) {
      raise<format_error>(path.string(), ": '", name, "' is ", src.extents().str(), ", expected ", t.extents().str());
    }
    t = src;
  });
  return out;
}

}  // namespace lsk::model
