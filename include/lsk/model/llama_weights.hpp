// lsk/model/llama_weights.hpp: the parameters of a Llama model (or their
// gradients: the same structure), named as in Hugging Face checkpoints.
//
// Linear weights are stored (out_features, in_features), row-major, exactly as
// in a safetensors file: y = x W^T.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "lsk/core/rng.hpp"
#include "lsk/core/tensor.hpp"
#include "lsk/model/llama_config.hpp"

namespace lsk::model {

template <class T>
struct llama_layer_weights {
  tensor<T> input_layernorm, q_proj, k_proj, v_proj, o_proj;
  tensor<T> post_attention_layernorm, gate_proj, up_proj, down_proj;
};

template <class T>
struct llama_weights {
  tensor<T> embed_tokens;
  std::vector<llama_layer_weights<T>> layers;
  tensor<T> norm;
  tensor<T> lm_head;  // empty when tied to embed_tokens

  llama_weights() = default;
  // Shaped for `config`, every element `fill` (norm weights too: call init() for a trainable start).
  explicit llama_weights(const llama_config& c, T fill = T(0)) {
    c.validate();
    const index_t d = c.hidden_size, f = c.intermediate_size;
    embed_tokens = tensor<T>(shape{c.vocab_size, d}, fill);
    for (index_t i = 0; i < c.num_hidden_layers; ++i) {
      layers.push_back({tensor<T>(shape{d}, fill), tensor<T>(shape{c.q_size(), d}, fill),
                        tensor<T>(shape{c.kv_size(), d}, fill), tensor<T>(shape{c.kv_size(), d}, fill),
                        tensor<T>(shape{d, c.q_size()}, fill), tensor<T>(shape{d}, fill), tensor<T>(shape{f, d}, fill),
                        tensor<T>(shape{f, d}, fill), tensor<T>(shape{d, f}, fill)});
    }
    norm = tensor<T>(shape{d}, fill);
    if (!c.tie_word_embeddings) lm_head = tensor<T>(shape{c.vocab_size, d}, fill);
  }

  // Calls fn(name, tensor&) for every parameter, in checkpoint order, with Hugging Face names.
  template <class Fn>
  void for_each(Fn&& fn) {
    fn(std::string("model.embed_tokens.weight"), embed_tokens);
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      auto& l = layers[i];
      fn(p + "input_layernorm.weight", l.input_layernorm);
      fn(p + "self_attn.q_proj.weight", l.q_proj);
      fn(p + "self_attn.k_proj.weight", l.k_proj);
      fn(p + "self_attn.v_proj.weight", l.v_proj);
      fn(p + "self_attn.o_proj.weight", l.o_proj);
      fn(p + "post_attention_layernorm.weight", l.post_attention_layernorm);
      fn(p + "mlp.gate_proj.weight", l.gate_proj);
      fn(p + "mlp.up_proj.weight", l.up_proj);
      fn(p + "mlp.down_proj.weight", l.down_proj);
    }
    fn(std::string("model.norm.weight"), norm);
    if (!lm_head.empty()) fn(std::string("lm_head.weight"), lm_head);
  }
  template <class Fn>
  void for_each(Fn&& fn) const {
    const_cast<llama_weights*>(this)->for_each(
        [&](const std::string& name, tensor<T>& t) { fn(name, static_cast<const tensor<T>&>(t)); });
  }

  // The same parameters in `memory` (nullptr: on the host).
  llama_weights to(device_memory* memory) const {
    const auto moved = [&](const tensor<T>& t) { return t.to(memory); };
    llama_weights out;
    out.embed_tokens = moved(embed_tokens);
    for (const auto& l : layers) {
      out.layers.push_back({moved(l.input_layernorm), moved(l.q_proj), moved(l.k_proj), moved(l.v_proj),
                            moved(l.o_proj), moved(l.post_attention_layernorm), moved(l.gate_proj), moved(l.up_proj),
                            moved(l.down_proj)});
    }
    out.norm = moved(norm);
    if (!lm_head.empty()) out.lm_head = moved(lm_head);
    return out;
  }
  // Where the parameters are (nullptr: on the host).
  device_memory* memory() const { return embed_tokens.memory(); }

  void fill(T value) {
    for_each([&](const std::string&, tensor<T>& t) { t.fill(value); });
  }

  // Norm weights 1; other weights normal(0, std) with std = 0.02 (Hugging Face's
  // initializer_range default); output projections scaled by 1/sqrt(2 layers).
  void init(rng& g, double std = 0.02) {
    const double out_std = std / std::sqrt(2.0 * static_cast<double>(std::max<std::size_t>(layers.size(), 1)));
    for_each([&](const std::string& name, tensor<T>& t) {
      if (name.ends_with("norm.weight") || name.ends_with("layernorm.weight")) {
        t.fill(T(1));
        return;
      }
      const bool out_proj = name.ends_with("o_proj.weight") || name.ends_with("down_proj.weight");
      for (auto& v : t.values()) v = static_cast<T>(g.normal() * (out_proj ? out_std : std));
    });
  }

  // Whether a parameter is conventionally exempt from weight decay (norms, embeddings).
  static bool is_norm_or_embedding(const std::string& name) {
    return name.ends_with("norm.weight") || name.ends_with("layernorm.weight") || name == "model.embed_tokens.weight";
  }
};

}  // namespace lsk::model
