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
// the config. Attention: chosen by config.attention (lsk/attention/kind.hpp):
// naive (lsk/attention/naive.hpp) keeps the probabilities, memory quadratic in
// sequence length; tiled (lsk/attention/tiled.hpp) keeps the log-sum-exp, so
// a training step's activations are linear in length. With
// config.recompute_activations, forward keeps each layer's input and one
// layer's activations, and backward recomputes a layer's activations before
// differentiating it (memory of one layer for one more forward of the layers;
// the same arithmetic, so the same bits). With config.head_chunk_tokens, the
// LM head and cross-entropy run chunk by chunk: forward keeps each token's
// log-sum-exp, backward recomputes a chunk's logits before taking its
// gradient (logits memory of one chunk for one more LM-head product). Packed sequences:
// token_batch::documents, when set, masks attention across documents.
// Context parallelism: after set_context_parallel(&comm), forward/backward take
// this rank's zigzag shard of every sequence (lsk/model/context_shard.hpp) and
// attention runs as ring attention over comm (lsk/attention/context_parallel.hpp);
// every rank of comm must make the same calls. decode() does not shard.
// Memory: the model's tensors (weights, gradients, rotary tables, activations)
// live where its weights are: on the host, or after to(memory) in a device
// backend's memory (lsk/core/backend_memory.hpp), where only that backend's
// ops touch them; batches are copied there on each forward. A device backend
// runs attention with its own `attention_type` when it declares one (the CUDA
// backend's fused flash attention), else with the naive attention's backend
// ops (causal only; document masks need the host), and under context
// parallelism with its `context_attention_type` (the CUDA device ring; other
// device backends refuse it).
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "lsk/attention/context_parallel.hpp"
#include "lsk/attention/naive.hpp"
#include "lsk/attention/tiled.hpp"
#include "lsk/core/backend_memory.hpp"
#include "lsk/model/context_shard.hpp"
#include "lsk/model/gradient_ready.hpp"
#include "lsk/model/llama_config.hpp"
#include "lsk/model/llama_weights.hpp"
#include "lsk/model/token_batch.hpp"
#include "lsk/ops.hpp"
#include "lsk/ops/rope.hpp"
#include "lsk/position/rope_table.hpp"

namespace lsk::model {

// cos/sin rows per position: (positions, rotary_dim / 2) each, attention factor
// included; made by position::make_rope_table from a position encoding.
template <real_scalar T>
using rotary_tables = position::rope_table<T>;

// The attention a model runs on backend B: B::attention_type when B declares
// one, else the configured host attention (host memory) or the naive one.
template <class B>
concept declares_attention = requires {
  typename B::attention_type;
};
// The attention under context parallelism on backend B when B declares one
// (constructed with the communicator); host backends use the host ring.
template <class B>
concept declares_context_attention = requires(dist::any_communicator* comm) {
  typename B::context_attention_type;
  {typename B::context_attention_type{comm}};
};

template <real_scalar T>
class llama {
 public:
  llama_config config;
  llama_weights<T> weights;
  llama_weights<T> grads;  // allocated by enable_training()
  rotary_tables<T> rotary;

  llama(llama_config c, llama_weights<T> w) : config(c), weights(std::move(w)) { config.validate(); }

  // Rotary tables for positions 0 .. rows-1 of a position encoding (lsk/position/).
  template <PositionEncoding P>
  void set_position_encoding(const P& encoding, index_t rows) {
    rotary = position::make_rope_table<T>(encoding, rows);
    if (memory() != nullptr) rotary = rotary_in(rotary, memory());
  }

  // Where the model's tensors live (nullptr: on the host).
  device_memory* memory() const { return weights.memory(); }
  // Moves weights, gradients and rotary tables to `memory` (nullptr: the host);
  // activations follow at the next forward. Views of the old tensors (an
  // optimizer's, a trainer's) are invalid afterwards: move before making them.
  void to(device_memory* target) {
    weights = weights.to(target);
    if (!grads.layers.empty()) grads = grads.to(target);
    if (!rotary.cos.empty()) rotary = rotary_in(rotary, target);
    allocated_tokens_ = -1;
    decode_act_ = {};
    device_batch_ = {};
  }

  // Ranks that share each sequence in forward/backward (nullptr: none; not owned).
  void set_context_parallel(dist::any_communicator* comm) { context_ = comm; }
  dist::any_communicator* context_parallel() const { return context_; }

  void enable_training() {
    if (grads.layers.empty()) grads = llama_weights<T>(config, T(0)).to(memory());
  }
  void zero_grad() { grads.fill(T(0)); }

  // The last forward's logits (tokens, vocab); not kept when its LM head ran in chunks.
  const tensor<T>& logits() const {
    if (act_.logits.rank() == 2 && act_.logits.dim(0) < act_.hf.dim(0)) {
      raise<config_error>("llama logits: the last forward ran the LM head in chunks of ", act_.logits.dim(0),
                          " tokens (head_chunk_tokens) and kept no logits");
    }
    return act_.logits;
  }

  // Elements held for training passes besides weights and gradients: what the
  // last forward keeps for backward and backward's scratch (0 before a forward).
  index_t activation_elements() const {
    index_t n = 0;
    auto count = [&n](const tensor<T>& t) { n += t.numel(); };
    for (const auto& x : act_.x) count(x);
    for (const auto& a : act_.layers) {
      for (const tensor<T>* t :
           {&a.h1, &a.rstd1, &a.q, &a.k, &a.v, &a.saved, &a.attn, &a.x_mid, &a.h2, &a.rstd2, &a.gate, &a.up, &a.act}) {
        count(*t);
      }
    }
    for (const tensor<T>* t : {&act_.hf, &act_.rstdf, &act_.logits, &act_.lse}) count(*t);
    const auto& s = scratch_;
    for (const tensor<T>* t :
         {&s.dlogits, &s.dx, &s.dh, &s.dnorm, &s.dact, &s.dgate, &s.dup, &s.dattn, &s.dq, &s.dk, &s.dv, &s.dsaved}) {
      count(*t);
    }
    return n;
  }

  // Forward pass over a batch; keeps the activations for backward. The loss is
  // the masked sum divided by `normalizer` (default: this batch's valid tokens;
  // pass the global count when accumulating micro-batches).
  template <Backend B>
  cross_entropy_result forward(B& be, const token_batch& batch, double normalizer = 0.0) {
    check_batch(batch);
    check_memory<B>("forward");
    if (context_ != nullptr && memory() != nullptr) {
      if constexpr (!declares_context_attention<B>) {
        raise<config_error>("llama forward: context parallelism on backend ", B::name,
                            " needs the model on the host (it is in ", memory()->name(), " memory)");
      }
      if (batch.has_documents()) {
        raise<unsupported_error>("llama forward: context parallelism on ", B::name, " takes no document masks");
      }
    }
    allocate<B>(batch);
    batch_ = &batch;
    index_t device_valid = 0;  // device ops neither check ids nor count valid tokens: done here on the host
    if (memory() != nullptr) {
      device_valid = check_ids(batch);
      if (normalizer <= 0.0) normalizer = static_cast<double>(device_valid);
      stage_batch(batch);
      batch_ = &device_batch_;
    }
    if (context_ != nullptr && batch.has_documents()) context_documents_ = gather_context_documents(*context_, batch);
    const token_batch& on_model = *batch_;
    embedding_forward<B, T>(be, on_model.tokens.view(), weights.embed_tokens, act_.x[0].view());
    const attention::attention_shape shape_info = attention_shape_of(batch);
    for (std::size_t i = 0; i < weights.layers.size(); ++i) {
      auto& a = layer_of(act_, i);
      layer_forward(be, i, a, act_.x[i], act_.x[i + 1].view(), on_model.positions.view(), shape_info, mask_of(on_model),
                    a.k.view(), a.v.view(), 0);
    }
    rmsnorm_forward<B, T>(be, act_.x.back(), weights.norm, eps(), act_.hf.view(), act_.rstdf.view());
    last_ = head_forward(be, on_model, normalizer);
    if (memory() != nullptr) last_.valid = device_valid;
    if (!std::isfinite(last_.loss)) {
      raise<numeric_error>("llama forward: loss is ", last_.loss, " (sum ", last_.sum, " over ", last_.valid,
                           " tokens)");
    }
    return last_;
  }

  // Keys and values of the tokens decoded so far, per layer: (max_len, kv_heads, head_dim).
  struct kv_cache {
    index_t length = 0;
    std::vector<tensor<T>> k, v;
    index_t capacity() const { return k.empty() ? 0 : k.front().dim(0); }
  };

  kv_cache make_cache(index_t max_len) const {
    kv_cache c;
    for (std::size_t i = 0; i < weights.layers.size(); ++i) {
      c.k.push_back(make({max_len, config.num_key_value_heads, config.head_size()}));
      c.v.push_back(make({max_len, config.num_key_value_heads, config.head_size()}));
    }
    return c;
  }

  // Inference: runs `tokens` (one sequence) after the cache's contents at
  // positions cache.length.., appends their keys/values to the cache and returns
  // their logits (tokens, vocab). Same arithmetic as forward(), without saving
  // anything for backward.
  template <Backend B>
  const tensor<T>& decode(B& be, std::span<const std::int32_t> tokens, kv_cache& cache) {
    const auto n = static_cast<index_t>(tokens.size());
    if (n == 0) raise<shape_error>("llama decode: no tokens");
    check_memory<B>("decode");
    if (context_ != nullptr) raise<config_error>("llama decode: not with context parallelism (set_context_parallel)");
    if (cache.length + n > cache.capacity()) {
      raise<shape_error>("llama decode: ", cache.length + n, " tokens exceed the cache capacity ", cache.capacity());
    }
    if (rotary.cos.rank() != 2 || cache.length + n > rotary.rows()) {
      raise<config_error>("llama decode: position ", cache.length + n - 1, " is beyond the rotary tables' ",
                          rotary.rows(), " rows");
    }
    tensor<std::int32_t> ids(shape{n}), positions(shape{n});
    for (index_t t = 0; t < n; ++t) {
      ids(t) = tokens[static_cast<std::size_t>(t)];
      positions(t) = static_cast<std::int32_t>(cache.length + t);
    }
    if (memory() != nullptr) {
      ids = ids.to(memory());
      positions = positions.to(memory());
    }
    const attention::attention_shape s{
        1, n, cache.length + n, config.num_attention_heads, config.num_key_value_heads, config.head_size()};
    allocate_activations<B>(decode_act_, 1, n, cache.length + n, 1, n);  // nothing kept for backward; all logits
    auto& act = decode_act_;
    embedding_forward<B, T>(be, ids.view(), weights.embed_tokens, act.x[0].view());
    for (std::size_t i = 0; i < weights.layers.size(); ++i) {
      layer_forward(be, i, act.layers.front(), act.x[i], act.x[i + 1].view(), positions.view(), s,
                    attention::causal_mask(), cache.k[i].view(), cache.v[i].view(), cache.length);
    }
    rmsnorm_forward<B, T>(be, act.x.back(), weights.norm, eps(), act.hf.view(), act.rstdf.view());
    linear_forward<B, T>(be, act.hf, lm_head(weights), act.logits.view());
    cache.length += n;
    return act.logits;
  }

  // Backward pass of the last forward: accumulates d(dloss * loss)/d(weights) into grads.
  // `on_ready`, when set, is told each time a part's gradients are final
  // (lsk/model/gradient_ready.hpp), e.g. to start their all-reduce.
  template <Backend B>
  void backward(B& be, double dloss = 1.0, const gradient_ready_hook& on_ready = {}) {
    if (batch_ == nullptr) raise<error>("llama backward: no forward pass to differentiate");
    enable_training();
    const token_batch& batch = *batch_;
    const attention::attention_shape shape_info = attention_shape_of(batch);
    auto& s = scratch_;
    head_backward(be, batch, dloss);
    rmsnorm_backward<B, T>(be, s.dh, act_.x.back(), weights.norm, act_.rstdf, s.dx.view(), grads.norm.view());
    if (on_ready) on_ready({gradient_ready::part::head, 0});
    for (std::size_t li = weights.layers.size(); li-- > 0;) {
      auto& w = weights.layers[li];
      auto& g = grads.layers[li];
      auto& a = layer_of(act_, li);
      if (act_.layers.size() < weights.layers.size() && li + 1 < weights.layers.size()) {
        // Recompute the layer's activations from its input (the last layer's are
        // still there from forward); its output is not needed again.
        layer_forward(be, li, a, act_.x[li], tensor_view<T>{}, batch.positions.view(), shape_info, mask_of(batch),
                      a.k.view(), a.v.view(), 0);
      }
      // x_out = x_mid + act Wd^T; s.dx holds d x_out, becomes d x_mid.
      linear_backward<B, T>(be, a.act, w.down_proj, s.dx, s.dact.view(), g.down_proj.view());
      swiglu_backward<B, T>(be, a.gate, a.up, s.dact, s.dgate.view(), s.dup.view());
      {
        const gemm_operand_reuse<B> reuse(be);  // h2 is read by both weight gradients
        linear_backward<B, T>(be, a.h2, w.gate_proj, s.dgate, s.dh.view(), g.gate_proj.view());
        linear_backward<B, T>(be, a.h2, w.up_proj, s.dup, s.dh.view(), g.up_proj.view(), T(1));
      }
      rmsnorm_backward<B, T>(be, s.dh, a.x_mid, w.post_attention_layernorm, a.rstd2, s.dnorm.view(),
                             g.post_attention_layernorm.view());
      add<B, T>(be, s.dx, s.dnorm, s.dx.view());
      // x_mid = x + attn Wo^T; s.dx holds d x_mid, becomes d x.
      linear_backward<B, T>(be, flat(a.attn), w.o_proj, s.dx, flat(s.dattn), g.o_proj.view());
      with_attention<B>([&](const auto& attn) {
        attn.template backward<B, T>(be, shape_info, mask_of(batch), a.q, a.k, a.v, a.attn, a.saved, s.dattn,
                                     attention_scale(), s.dsaved.view(), s.dq.view(), s.dk.view(), s.dv.view());
      });
      rope_backward<B, T>(be, s.dq, batch.positions.view(), rotary.cos, rotary.sin, config.layout, s.dq.view());
      rope_backward<B, T>(be, s.dk, batch.positions.view(), rotary.cos, rotary.sin, config.layout, s.dk.view());
      {
        const gemm_operand_reuse<B> reuse(be);  // h1 is read by the three weight gradients
        linear_backward<B, T>(be, a.h1, w.q_proj, flat(s.dq), s.dh.view(), g.q_proj.view());
        linear_backward<B, T>(be, a.h1, w.k_proj, flat(s.dk), s.dh.view(), g.k_proj.view(), T(1));
        linear_backward<B, T>(be, a.h1, w.v_proj, flat(s.dv), s.dh.view(), g.v_proj.view(), T(1));
      }
      rmsnorm_backward<B, T>(be, s.dh, act_.x[li], w.input_layernorm, a.rstd1, s.dnorm.view(),
                             g.input_layernorm.view());
      add<B, T>(be, s.dx, s.dnorm, s.dx.view());
      if (on_ready) on_ready({gradient_ready::part::layer, li});
    }
    embedding_backward<B, T>(be, batch.tokens.view(), s.dx, grads.embed_tokens.view());
    if (on_ready) on_ready({gradient_ready::part::embedding, 0});
  }

 private:
  struct layer_activations;

  // Rows of the LM head's chunks for n tokens (n: one chunk).
  index_t head_chunk(index_t n) const {
    return config.head_chunk_tokens > 0 && config.head_chunk_tokens < n ? config.head_chunk_tokens : n;
  }

  // logits = hf Wlm^T and the masked cross-entropy, chunk by chunk; the sum is
  // divided by the normalizer once at the end, as cross_entropy_forward does.
  template <Backend B>
  cross_entropy_result head_forward(B& be, const token_batch& b, double normalizer) {
    const index_t n = act_.hf.dim(0), chunk = head_chunk(n);
    cross_entropy_result r;
    for (index_t r0 = 0; r0 < n; r0 += chunk) {
      const index_t r1 = std::min(n, r0 + chunk);
      const tensor_view<T> logits = act_.logits.view().slice(0, r1 - r0);
      linear_forward<B, T>(be, act_.hf.view().slice(r0, r1), lm_head(weights), logits);
      const auto part = cross_entropy_forward<B, T>(be, logits, b.targets.view().slice(r0, r1),
                                                    b.loss_mask.view().slice(r0, r1), act_.lse.view().slice(r0, r1));
      r.sum += part.sum;
      r.valid += part.valid;
    }
    r.normalizer = normalizer > 0.0 ? normalizer : static_cast<double>(r.valid);
    r.loss = r.normalizer > 0.0 ? r.sum / r.normalizer : 0.0;
    return r;
  }

  // Backward of head_forward into scratch_.dh and the head's gradient. Chunks
  // go last to first: the last one's logits are still there from forward, the
  // others are recomputed.
  template <Backend B>
  void head_backward(B& be, const token_batch& b, double dloss) {
    const index_t n = act_.hf.dim(0), chunk = head_chunk(n);
    auto& s = scratch_;
    const index_t last = (n - 1) / chunk * chunk;
    for (index_t r0 = last; r0 >= 0; r0 -= chunk) {
      const index_t r1 = std::min(n, r0 + chunk);
      const tensor_view<T> logits = act_.logits.view().slice(0, r1 - r0);
      const auto hf = act_.hf.view().slice(r0, r1);
      if (r0 != last) linear_forward<B, T>(be, hf, lm_head(weights), logits);
      const tensor_view<T> dlogits = s.dlogits.view().slice(0, r1 - r0);
      cross_entropy_backward<B, T>(be, logits, b.targets.view().slice(r0, r1), b.loss_mask.view().slice(r0, r1),
                                   act_.lse.view().slice(r0, r1), dloss, last_.normalizer, dlogits);
      // logits = hf Wlm^T
      linear_backward<B, T>(be, hf, lm_head(weights), dlogits, s.dh.view().slice(r0, r1), lm_head(grads));
    }
  }

  // One decoder layer: x -> x_out. The layer's keys and values are computed into
  // a.k / a.v and, when k_all / v_all are a KV cache, copied to its rows
  // [k_offset, k_offset + tokens); attention reads rows [0, s.k_len) of k_all / v_all.
  // An empty x_out: the activations only (recomputed for backward), without the
  // down projection and residual add that make the output.
  template <Backend B>
  void layer_forward(B& be, std::size_t i, layer_activations& a, const_view<T> x, tensor_view<T> x_out,
                     const_view<std::int32_t> positions, const attention::attention_shape& s,
                     const attention::attention_mask& mask, tensor_view<T> k_all, tensor_view<T> v_all,
                     index_t k_offset) {
    const auto& w = weights.layers[i];
    rmsnorm_forward<B, T>(be, x, w.input_layernorm, eps(), a.h1.view(), a.rstd1.view());
    {
      const gemm_operand_reuse<B> reuse(be);  // one input, three products
      linear_forward<B, T>(be, a.h1, w.q_proj, flat(a.q));
      linear_forward<B, T>(be, a.h1, w.k_proj, flat(a.k));
      linear_forward<B, T>(be, a.h1, w.v_proj, flat(a.v));
    }
    rope_forward<B, T>(be, a.q, positions, rotary.cos, rotary.sin, config.layout, a.q.view());
    rope_forward<B, T>(be, a.k, positions, rotary.cos, rotary.sin, config.layout, a.k.view());
    const bool cached = k_all.data() != a.k.data();
    if (cached) {  // append to the cache
      const index_t n = a.k.dim(0);
      scale<B, T>(be, a.k, T(1), k_all.slice(k_offset, k_offset + n));
      scale<B, T>(be, a.v, T(1), v_all.slice(k_offset, k_offset + n));
    }
    with_attention<B>([&](const auto& attn) {
      attn.template forward<B, T>(be, s, mask, a.q, cached ? k_all.slice(0, s.k_len) : k_all,
                                  cached ? v_all.slice(0, s.k_len) : v_all, attention_scale(), a.saved.view(),
                                  a.attn.view());
    });
    // x_mid = x + attn Wo^T
    linear_forward<B, T>(be, flat(a.attn), w.o_proj, a.x_mid.view());
    add<B, T>(be, a.x_mid, x, a.x_mid.view());
    rmsnorm_forward<B, T>(be, a.x_mid, w.post_attention_layernorm, eps(), a.h2.view(), a.rstd2.view());
    {
      const gemm_operand_reuse<B> reuse(be);
      linear_forward<B, T>(be, a.h2, w.gate_proj, a.gate.view());
      linear_forward<B, T>(be, a.h2, w.up_proj, a.up.view());
    }
    swiglu_forward<B, T>(be, a.gate, a.up, a.act.view());
    if (x_out.data() == nullptr) return;
    linear_forward<B, T>(be, a.act, w.down_proj, x_out);
    add<B, T>(be, x_out, a.x_mid, x_out);
  }

  struct layer_activations {
    tensor<T> h1, rstd1, q, k, v, saved, attn, x_mid, h2, rstd2, gate, up, act;  // saved: the attention's state
  };
  struct activations {
    std::vector<tensor<T>> x;  // residual stream entering each layer, plus the final one
    std::vector<layer_activations> layers;
    tensor<T> hf, rstdf, logits, lse;
  };
  struct backward_scratch {
    tensor<T> dlogits, dx, dh, dnorm, dact, dgate, dup, dattn, dq, dk, dv, dsaved;  // dsaved: attention scratch
  };

  T eps() const { return static_cast<T>(config.rms_norm_eps); }
  T attention_scale() const { return static_cast<T>(1.0 / std::sqrt(static_cast<double>(config.head_size()))); }

  // (tokens, heads, head_dim) seen as (tokens, heads * head_dim).
  static tensor_view<T> flat(tensor<T>& t) { return t.view().reshape({t.dim(0), t.dim(1) * t.dim(2)}); }
  static tensor_view<const T> flat(const tensor<T>& t) { return t.view().reshape({t.dim(0), t.dim(1) * t.dim(2)}); }

  // Calls f with the attention (an lsk::Attention) the model runs on backend B.
  template <Backend B, class F>
  void with_attention(F&& f) const {
    if constexpr (declares_context_attention<B>) {
      if (context_ != nullptr) {
        f(typename B::context_attention_type{context_});
        return;
      }
    }
    if constexpr (declares_attention<B>) {
      f(typename B::attention_type{});
    } else if constexpr (B::memory != memory_space::host) {
      f(attention::naive_attention{});
    } else if (context_ != nullptr) {
      f(attention::context_parallel_attention{context_});
    } else if (config.attention == attention::attention_kind::tiled) {
      f(attention::tiled_attention{});
    } else {
      f(attention::naive_attention{});
    }
  }
  template <Backend B>
  index_t attention_saved_size(const attention::attention_shape& s) const {
    index_t n = 0;
    with_attention<B>([&](const auto& attn) { n = attn.saved_size(s); });
    return n;
  }
  template <Backend B>
  index_t attention_scratch_size(const attention::attention_shape& s) const {
    index_t n = 0;
    with_attention<B>([&](const auto& attn) { n = attn.scratch_size(s); });
    return n;
  }
  // The tables in `target` (nullptr: the host).
  static rotary_tables<T> rotary_in(const rotary_tables<T>& t, device_memory* target) {
    return {t.cos.to(target), t.sin.to(target)};
  }
  // A zero-filled tensor where the model's tensors live.
  tensor<T> make(shape extents) const { return tensor<T>(extents, memory()); }
  // Under context parallelism the attention sees the whole sequences' document ids.
  attention::attention_mask mask_of(const token_batch& b) const {
    if (!b.has_documents()) return attention::causal_mask();
    return attention::document_mask(context_ != nullptr ? context_documents_.view() : b.documents.view());
  }

  static tensor<T>& lm_head(llama_weights<T>& w) { return !w.lm_head.empty() ? w.lm_head : w.embed_tokens; }

  attention::attention_shape attention_shape_of(const token_batch& b) const {
    return {b.batch, b.seq_len, b.seq_len, config.num_attention_heads, config.num_key_value_heads, config.head_size()};
  }

  // Copies batch into device_batch_, reusing its device tensors when the shapes match.
  void stage_batch(const token_batch& batch) {
    token_batch& d = device_batch_;
    if (d.batch != batch.batch || d.seq_len != batch.seq_len || d.tokens.memory() != memory() ||
        d.has_documents() != batch.has_documents()) {
      device_batch_ = batch.to(memory());
      return;
    }
    d.tokens.copy_from(batch.tokens);
    d.targets.copy_from(batch.targets);
    d.positions.copy_from(batch.positions);
    d.loss_mask.copy_from(batch.loss_mask);
    if (batch.has_documents()) d.documents.copy_from(batch.documents);
  }

  // The checks host backends' ops make, for a model on a device; returns the valid-token count.
  index_t check_ids(const token_batch& b) const {
    constexpr std::string_view op = "llama forward";
    lsk::detail::check_token_ids_on_host(op, b.tokens.view(), config.vocab_size);
    lsk::detail::check_positions_on_host(op, b.positions.view(), rotary.rows());
    return lsk::detail::count_valid_targets_on_host(op, b.targets.view(), b.loss_mask.view(), config.vocab_size);
  }

  // The backend must work in the memory the model is in.
  template <Backend B>
  void check_memory(const char* call) const {
    if (B::memory == memory_space::host && memory() != nullptr) {
      raise<config_error>("llama ", call, ": the model is in ", memory()->name(), " memory, but backend ", B::name,
                          " works in host memory");
    }
    if (B::memory != memory_space::host && memory() == nullptr) {
      raise<config_error>("llama ", call, ": backend ", B::name,
                          " works in device memory, but the model is on the host (move it with to(memory))");
    }
  }

  void check_batch(const token_batch& b) const {
    if (b.size() <= 0) raise<shape_error>("llama forward: empty batch");
    if (b.tokens.numel() != b.size() || b.targets.numel() != b.size() || b.positions.numel() != b.size() ||
        b.loss_mask.numel() != b.size()) {
      raise<shape_error>("llama forward: batch tensors must each hold batch * seq_len = ", b.size(), " entries");
    }
    if (b.has_documents() && b.documents.numel() != b.size()) {
      raise<shape_error>("llama forward: documents hold ", b.documents.numel(), " ids for ", b.size(), " tokens");
    }
    if (rotary.cos.rank() != 2 || rotary.rows() == 0) raise<config_error>("llama forward: rotary tables are not set");
  }

  // The activations layer i writes: its own, or the one set all layers share
  // (recomputed activations, decoding).
  static layer_activations& layer_of(activations& act, std::size_t i) {
    return act.layers.size() == 1 ? act.layers.front() : act.layers[i];
  }

  // Activations for `batch` sequences of q_len tokens attending to k_len keys;
  // `layer_sets` sets of per-layer activations (every layer's, or one shared)
  // and logits for `logits_rows` tokens at a time.
  template <Backend B>
  void allocate_activations(activations& act, index_t batch, index_t q_len, index_t k_len, std::size_t layer_sets,
                            index_t logits_rows) const {
    const index_t n = batch * q_len, d = config.hidden_size, f = config.intermediate_size, hd = config.head_size();
    const index_t h = config.num_attention_heads, kv = config.num_key_value_heads;
    act.x.clear();
    for (std::size_t i = 0; i <= weights.layers.size(); ++i) act.x.push_back(make({n, d}));
    act.layers.clear();
    for (std::size_t i = 0; i < layer_sets; ++i) {
      act.layers.push_back({make({n, d}), make({n}), make({n, h, hd}), make({n, kv, hd}), make({n, kv, hd}),
                            make({attention_saved_size<B>({batch, q_len, k_len, h, kv, hd})}), make({n, h, hd}),
                            make({n, d}), make({n, d}), make({n}), make({n, f}), make({n, f}), make({n, f})});
    }
    act.hf = make({n, d});
    act.rstdf = make({n});
    act.logits = make({logits_rows, config.vocab_size});
    act.lse = make({n});
  }

  template <Backend B>
  void allocate(const token_batch& b) {
    const index_t n = b.size(), d = config.hidden_size, f = config.intermediate_size, hd = config.head_size();
    const index_t h = config.num_attention_heads, kv = config.num_key_value_heads;
    if (allocated_tokens_ == n && allocated_seq_ == b.seq_len && allocated_attention_ == config.attention &&
        allocated_context_ == context_ && allocated_recompute_ == config.recompute_activations &&
        allocated_head_chunk_ == config.head_chunk_tokens)
      return;
    allocated_head_chunk_ = config.head_chunk_tokens;
    allocated_context_ = context_;
    allocated_recompute_ = config.recompute_activations;
    allocated_tokens_ = n;
    allocated_seq_ = b.seq_len;
    allocated_attention_ = config.attention;
    allocate_activations<B>(act_, b.batch, b.seq_len, b.seq_len,
                            config.recompute_activations ? 1 : weights.layers.size(), head_chunk(n));
    auto& s = scratch_;
    s.dlogits = make({head_chunk(n), config.vocab_size});
    s.dx = make({n, d});
    s.dh = make({n, d});
    s.dnorm = make({n, d});
    s.dact = make({n, f});
    s.dgate = make({n, f});
    s.dup = make({n, f});
    s.dattn = make({n, h, hd});
    s.dq = make({n, h, hd});
    s.dk = make({n, kv, hd});
    s.dv = make({n, kv, hd});
    s.dsaved = make({attention_scratch_size<B>(attention_shape_of(b))});
  }

  activations act_;
  activations decode_act_;
  backward_scratch scratch_;
  cross_entropy_result last_;
  const token_batch* batch_ = nullptr;  // the last forward's batch, where the model's tensors are
  token_batch device_batch_;            // its copy in device memory (models on a device)
  index_t allocated_tokens_ = -1, allocated_seq_ = -1;
  attention::attention_kind allocated_attention_ = attention::attention_kind::naive;
  bool allocated_recompute_ = false;
  index_t allocated_head_chunk_ = 0;
  dist::any_communicator* allocated_context_ = nullptr;
  dist::any_communicator* context_ = nullptr;
  tensor<std::int32_t> context_documents_;  // the whole sequences' ids of the last forward (context parallel)
};

}  // namespace lsk::model
