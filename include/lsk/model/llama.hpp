// lsk/model/llama.hpp: a Llama-architecture decoder, forward and backward,
// generic over the backend (template argument of each call) and element type.
//
// Per layer (x: (tokens, hidden), pre-norm residual blocks):
//   h = rmsnorm(x) ; q, k, v = h Wq^T, h Wk^T, h Wv^T ; rope(q), rope(k)
//   x = x + attention(q, k, v) Wo^T                    (causal, grouped-query)
//   h = rmsnorm(x) ; x = x + (silu(h Wg^T) * (h Wu^T)) Wd^T
// then logits = rmsnorm(x) Wlm^T (Wlm = the embedding when tied) and a masked
// cross-entropy. Backward is written by hand in reverse order (as in llm.c),
// from the activations the forward pass keeps: x, normalised inputs and their
// rstd, q/k (after rope), v, attention probabilities and output, MLP gate/up/
// activation. Parameter gradients accumulate (+=) into `grads` so that
// micro-batches add up; zero_grad() clears them.
// Positions: the rotary tables (cos/sin rows per position, built by a position
// encoding, lsk/position/) are set by the caller; rope's pair layout comes from
// the config. Attention: naive (lsk/attention/naive.hpp), memory quadratic in
// sequence length.
#pragma once

#include <cmath>
#include <vector>

#include "lsk/attention/naive.hpp"
#include "lsk/model/llama_config.hpp"
#include "lsk/model/llama_weights.hpp"
#include "lsk/model/token_batch.hpp"
#include "lsk/ops.hpp"
#include "lsk/ops/rope.hpp"

namespace lsk::model {

// cos/sin rows per position: (positions, rotary_dim / 2) each, attention factor included.
template <class T>
struct rotary_tables {
  tensor<T> cos, sin;
  index_t rows() const { return cos.rank() == 2 ? cos.dim(0) : 0; }
};

template <real_scalar T>
class llama {
 public:
  llama_config config;
  llama_weights<T> weights;
  llama_weights<T> grads;  // allocated by enable_training()
  rotary_tables<T> rotary;

  llama(llama_config c, llama_weights<T> w) : config(c), weights(std::move(w)) { config.validate(); }

  void enable_training() {
    if (grads.layers.empty()) grads = llama_weights<T>(config, T(0));
  }
  void zero_grad() { grads.fill(T(0)); }

  const tensor<T>& logits() const { return act_.logits; }

  // Forward pass over a batch; keeps the activations for backward. The loss is
  // the masked sum divided by `normalizer` (default: this batch's valid tokens;
  // pass the global count when accumulating micro-batches).
  template <Backend B>
  cross_entropy_result forward(B& be, const token_batch& batch, double normalizer = 0.0) {
    const index_t n = batch.size(), d = config.hidden_size, hd = config.head_size();
    check_batch(batch);
    allocate(batch);
    batch_ = &batch;
    embedding_forward<B, T>(be, batch.tokens.view(), weights.embed_tokens, act_.x[0].view());
    const attention::attention_shape shape_info = attention_shape_of(batch);
    const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(hd)));
    for (std::size_t i = 0; i < weights.layers.size(); ++i) {
      auto& w = weights.layers[i];
      auto& a = act_.layers[i];
      const auto x = act_.x[i].view();
      rmsnorm_forward<B, T>(be, x, w.input_layernorm, eps(), a.h1.view(), a.rstd1.view());
      linear_forward<B, T>(be, a.h1, w.q_proj, flat(a.q));
      linear_forward<B, T>(be, a.h1, w.k_proj, flat(a.k));
      linear_forward<B, T>(be, a.h1, w.v_proj, flat(a.v));
      rope_forward<B, T>(be, a.q, batch.positions.view(), rotary.cos, rotary.sin, config.layout, a.q.view());
      rope_forward<B, T>(be, a.k, batch.positions.view(), rotary.cos, rotary.sin, config.layout, a.k.view());
      attention::naive_forward<B, T>(be, shape_info, a.q, a.k, a.v, scale, a.probs.view(), a.attn.view());
      // x_mid = x + attn Wo^T
      linear_forward<B, T>(be, flat(a.attn), w.o_proj, a.x_mid.view());
      add<B, T>(be, a.x_mid, x, a.x_mid.view());
      rmsnorm_forward<B, T>(be, a.x_mid, w.post_attention_layernorm, eps(), a.h2.view(), a.rstd2.view());
      linear_forward<B, T>(be, a.h2, w.gate_proj, a.gate.view());
      linear_forward<B, T>(be, a.h2, w.up_proj, a.up.view());
      swiglu_forward<B, T>(be, a.gate, a.up, a.act.view());
      linear_forward<B, T>(be, a.act, w.down_proj, act_.x[i + 1].view());
      add<B, T>(be, act_.x[i + 1], a.x_mid, act_.x[i + 1].view());
    }
    rmsnorm_forward<B, T>(be, act_.x.back(), weights.norm, eps(), act_.hf.view(), act_.rstdf.view());
    linear_forward<B, T>(be, act_.hf, lm_head(weights), act_.logits.view());
    (void)n;
    (void)d;
    last_ = cross_entropy_forward<B, T>(be, act_.logits, batch.targets.view(), batch.loss_mask.view(),
                                        act_.lse.view(), normalizer);
    if (!std::isfinite(last_.loss)) {
      raise<numeric_error>("llama forward: loss is ", last_.loss, " (sum ", last_.sum, " over ", last_.valid,
                           " tokens)");
    }
    return last_;
  }

  // Backward pass of the last forward: accumulates d(dloss * loss)/d(weights) into grads.
  template <Backend B>
  void backward(B& be, double dloss = 1.0) {
    if (batch_ == nullptr) raise<error>("llama backward: no forward pass to differentiate");
    enable_training();
    const token_batch& batch = *batch_;
    const attention::attention_shape shape_info = attention_shape_of(batch);
    const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(config.head_size())));
    auto& s = scratch_;
    cross_entropy_backward<B, T>(be, act_.logits, batch.targets.view(), batch.loss_mask.view(), act_.lse, dloss,
                                 last_.normalizer, s.dlogits.view());
    // logits = hf Wlm^T
    linear_backward<B, T>(be, act_.hf, lm_head(weights), s.dlogits, s.dh.view(), lm_head(grads));
    rmsnorm_backward<B, T>(be, s.dh, act_.x.back(), weights.norm, act_.rstdf, s.dx.view(), grads.norm.view());
    for (std::size_t li = weights.layers.size(); li-- > 0;) {
      auto& w = weights.layers[li];
      auto& g = grads.layers[li];
      auto& a = act_.layers[li];
      // x_out = x_mid + act Wd^T; s.dx holds d x_out, becomes d x_mid.
      linear_backward<B, T>(be, a.act, w.down_proj, s.dx, s.dact.view(), g.down_proj.view());
      swiglu_backward<B, T>(be, a.gate, a.up, s.dact, s.dgate.view(), s.dup.view());
      linear_backward<B, T>(be, a.h2, w.gate_proj, s.dgate, s.dh.view(), g.gate_proj.view());
      linear_backward<B, T>(be, a.h2, w.up_proj, s.dup, s.dh.view(), g.up_proj.view(), T(1));
      rmsnorm_backward<B, T>(be, s.dh, a.x_mid, w.post_attention_layernorm, a.rstd2, s.dnorm.view(),
                             g.post_attention_layernorm.view());
      add<B, T>(be, s.dx, s.dnorm, s.dx.view());
      // x_mid = x + attn Wo^T; s.dx holds d x_mid, becomes d x.
      linear_backward<B, T>(be, flat(a.attn), w.o_proj, s.dx, flat(s.dattn), g.o_proj.view());
      attention::naive_backward<B, T>(be, shape_info, a.q, a.k, a.v, a.probs, s.dattn, scale, s.dprobs.view(),
                                      s.dq.view(), s.dk.view(), s.dv.view());
      rope_backward<B, T>(be, s.dq, batch.positions.view(), rotary.cos, rotary.sin, config.layout, s.dq.view());
      rope_backward<B, T>(be, s.dk, batch.positions.view(), rotary.cos, rotary.sin, config.layout, s.dk.view());
      linear_backward<B, T>(be, a.h1, w.q_proj, flat(s.dq), s.dh.view(), g.q_proj.view());
      linear_backward<B, T>(be, a.h1, w.k_proj, flat(s.dk), s.dh.view(), g.k_proj.view(), T(1));
      linear_backward<B, T>(be, a.h1, w.v_proj, flat(s.dv), s.dh.view(), g.v_proj.view(), T(1));
      rmsnorm_backward<B, T>(be, s.dh, act_.x[li], w.input_layernorm, a.rstd1, s.dnorm.view(),
                             g.input_layernorm.view());
      add<B, T>(be, s.dx, s.dnorm, s.dx.view());
    }
    embedding_backward<B, T>(be, batch.tokens.view(), s.dx, grads.embed_tokens.view());
  }

 private:
  struct layer_activations {
    tensor<T> h1, rstd1, q, k, v, probs, attn, x_mid, h2, rstd2, gate, up, act;
  };
  struct activations {
    std::vector<tensor<T>> x;  // residual stream entering each layer, plus the final one
    std::vector<layer_activations> layers;
    tensor<T> hf, rstdf, logits, lse;
  };
  struct backward_scratch {
    tensor<T> dlogits, dx, dh, dnorm, dact, dgate, dup, dattn, dq, dk, dv, dprobs;
  };

  T eps() const { return static_cast<T>(config.rms_norm_eps); }

  // (tokens, heads, head_dim) seen as (tokens, heads * head_dim).
  static tensor_view<T> flat(tensor<T>& t) { return t.view().reshape({t.dim(0), t.dim(1) * t.dim(2)}); }
  static tensor_view<const T> flat(const tensor<T>& t) { return t.view().reshape({t.dim(0), t.dim(1) * t.dim(2)}); }

  static tensor<T>& lm_head(llama_weights<T>& w) { return !w.lm_head.empty() ? w.lm_head : w.embed_tokens; }

  attention::attention_shape attention_shape_of(const token_batch& b) const {
    return {b.batch, b.seq_len, b.seq_len, config.num_attention_heads, config.num_key_value_heads,
            config.head_size()};
  }

  void check_batch(const token_batch& b) const {
    if (b.size() <= 0) raise<shape_error>("llama forward: empty batch");
    if (b.tokens.numel() != b.size() || b.targets.numel() != b.size() || b.positions.numel() != b.size() ||
        b.loss_mask.numel() != b.size()) {
      raise<shape_error>("llama forward: batch tensors must each hold batch * seq_len = ", b.size(), " entries");
    }
    if (rotary.rows() == 0) raise<config_error>("llama forward: rotary tables are not set");
  }

  void allocate(const token_batch& b) {
    const index_t n = b.size(), d = config.hidden_size, f = config.intermediate_size, hd = config.head_size();
    const index_t h = config.num_attention_heads, kv = config.num_key_value_heads;
    if (allocated_tokens_ == n && allocated_seq_ == b.seq_len) return;
    allocated_tokens_ = n;
    allocated_seq_ = b.seq_len;
    act_.x.assign(weights.layers.size() + 1, tensor<T>(shape{n, d}));
    act_.layers.clear();
    for (std::size_t i = 0; i < weights.layers.size(); ++i) {
      act_.layers.push_back({tensor<T>(shape{n, d}), tensor<T>(shape{n}), tensor<T>(shape{n, h, hd}),
                             tensor<T>(shape{n, kv, hd}), tensor<T>(shape{n, kv, hd}),
                             tensor<T>(shape{b.batch, h, b.seq_len, b.seq_len}), tensor<T>(shape{n, h, hd}),
                             tensor<T>(shape{n, d}), tensor<T>(shape{n, d}), tensor<T>(shape{n}),
                             tensor<T>(shape{n, f}), tensor<T>(shape{n, f}), tensor<T>(shape{n, f})});
    }
    act_.hf = tensor<T>(shape{n, d});
    act_.rstdf = tensor<T>(shape{n});
    act_.logits = tensor<T>(shape{n, config.vocab_size});
    act_.lse = tensor<T>(shape{n});
    auto& s = scratch_;
    s.dlogits = tensor<T>(shape{n, config.vocab_size});
    s.dx = tensor<T>(shape{n, d});
    s.dh = tensor<T>(shape{n, d});
    s.dnorm = tensor<T>(shape{n, d});
    s.dact = tensor<T>(shape{n, f});
    s.dgate = tensor<T>(shape{n, f});
    s.dup = tensor<T>(shape{n, f});
    s.dattn = tensor<T>(shape{n, h, hd});
    s.dq = tensor<T>(shape{n, h, hd});
    s.dk = tensor<T>(shape{n, kv, hd});
    s.dv = tensor<T>(shape{n, kv, hd});
    s.dprobs = tensor<T>(shape{b.batch, h, b.seq_len, b.seq_len});
  }

  activations act_;
  backward_scratch scratch_;
  cross_entropy_result last_;
  const token_batch* batch_ = nullptr;
  index_t allocated_tokens_ = -1, allocated_seq_ = -1;
};

}  // namespace lsk::model
