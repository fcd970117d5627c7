// lsk/backends/cuda/model_ring_attention.hpp: context-parallel attention of a
// Llama model on the CUDA backend (lsk::cuda::backend::context_attention_type;
// lsk/concepts/attention.hpp), used when the model is given a communicator
// with llama::set_context_parallel.
//
// The model's layer holds this rank's zigzag shard of each of `batch`
// sequences (lsk/model/context_shard.hpp): q_len = seq_len / P tokens per
// sequence. q, k, v are rounded to bf16 and each sequence runs the device ring
// (ring_attention.hpp: flash kernels per chunk pair, f32 merges, blocks moving
// over the communicator, which must hold device memory: NCCL); the output and
// dq, dk, dv come back as f32. Causal masks only (document ids are refused:
// the ring kernels do not take them); head_dim 64 or 128; f32 models.
// saved and scratch use model_attention's layout (lse, bf16 q, k, v, out; bf16
// dout, dq, dk, dv). The ring's device scratch is allocated per call.
// Tested on an H100: 2 thread ranks on one GPU train as one GPU does
// (backends/cuda/tests/test_cuda_model.cpp, "[ring]").
#pragma once

#include <string_view>
#include <type_traits>

#include "lsk/backends/cuda/model_attention.hpp"
#include "lsk/backends/cuda/ring_attention.hpp"
#include "lsk/dist/any_communicator.hpp"

namespace lsk::cuda {

struct model_ring_attention {
  static constexpr std::string_view name = "cuda_ring";
  dist::any_communicator* comm = nullptr;

  index_t saved_size(const attention::attention_shape& s) const {
    return model_attention_detail::floats(model_attention_detail::saved_layout(s).end);
  }
  index_t scratch_size(const attention::attention_shape& s) const {
    return model_attention_detail::floats(model_attention_detail::scratch_layout(s).end);
  }

  template <Backend B, real_scalar T>
  void forward(B& be, const attention::attention_shape& s, const attention::attention_mask& mask, const_view<T> q,
               const_view<T> k, const_view<T> v, T scale, tensor_view<T> saved, tensor_view<T> out) const {
    using namespace model_attention_detail;
    check<T>(s, mask);
    if constexpr (std::is_same_v<T, float>) {
      const saved_buffers b = saved_at(saved.data(), s);
      const cudaStream_t stream = be.stream();
      f32_to_bf16(q.data(), b.q, count(q), stream);
      f32_to_bf16(k.data(), b.k, count(k), stream);
      f32_to_bf16(v.data(), b.v, count(v), stream);
      ring_attention_workspace ws(ring_of(s), true);
      for (index_t i = 0; i < s.batch; ++i) {
        const std::size_t qo = q_offset(s, i), ko = kv_offset(s, i);
        ring_attention_forward(*comm, ws, b.q + qo, b.k + ko, b.v + ko, scale, b.o + qo, b.lse + lse_offset(s, i),
                               stream);
      }
      bf16_to_f32(b.o, out.data(), count(out), stream);
    }
  }

  template <Backend B, real_scalar T>
  void backward(B& be, const attention::attention_shape& s, const attention::attention_mask& mask, const_view<T>,
                const_view<T>, const_view<T>, const_view<T>, const_view<T> saved, const_view<T> dout, T scale,
                tensor_view<T> scratch, tensor_view<T> dq, tensor_view<T> dk, tensor_view<T> dv) const {
    using namespace model_attention_detail;
    check<T>(s, mask);
    if constexpr (std::is_same_v<T, float>) {
      const saved_buffers b = saved_at(saved.data(), s);  // read by the backward
      const scratch_buffers w = scratch_at(scratch.data(), s);
      const cudaStream_t stream = be.stream();
      f32_to_bf16(dout.data(), w.dout, count(dout), stream);
      ring_attention_workspace ws(ring_of(s), true);
      for (index_t i = 0; i < s.batch; ++i) {
        const std::size_t qo = q_offset(s, i), ko = kv_offset(s, i);
        ring_attention_backward(*comm, ws, b.q + qo, b.k + ko, b.v + ko, b.o + qo, b.lse + lse_offset(s, i),
                                w.dout + qo, scale, w.dq + qo, w.dk + ko, w.dv + ko, stream);
      }
      bf16_to_f32(w.dq, dq.data(), count(dq), stream);
      bf16_to_f32(w.dk, dk.data(), count(dk), stream);
      bf16_to_f32(w.dv, dv.data(), count(dv), stream);
    }
  }

 private:
  template <class T>
  void check(const attention::attention_shape& s, const attention::attention_mask& mask) const {
    if (comm == nullptr) raise<config_error>("cuda ring attention: no communicator");
    if constexpr (!std::is_same_v<T, float>) raise<unsupported_error>("cuda ring attention: f32 models only");
    if (mask.by_document()) {
      raise<unsupported_error>("cuda ring attention: document masks are not supported by the device ring");
    }
    if (s.q_len != s.k_len) raise<shape_error>("cuda ring attention: a training shard (q_len == k_len)");
    if (comm->memory() != memory_space::device) {
      raise<config_error>("cuda ring attention: the communicator (", comm->engine(),
                          ") must move device memory (NCCL)");
    }
  }
  // The ring of one sequence: the shard holds q_len = seq_len / P tokens.
  attention::ring_shape ring_of(const attention::attention_shape& s) const {
    return {s.q_len * comm->size(), s.heads, s.kv_heads, s.head_dim, comm->size()};
  }
  static std::size_t q_offset(const attention::attention_shape& s, index_t b) {
    return static_cast<std::size_t>(b * s.q_len * s.heads * s.head_dim);
  }
  static std::size_t kv_offset(const attention::attention_shape& s, index_t b) {
    return static_cast<std::size_t>(b * s.k_len * s.kv_heads * s.head_dim);
  }
  static std::size_t lse_offset(const attention::attention_shape& s, index_t b) {
    return static_cast<std::size_t>(b * s.q_len * s.heads);
  }
};

}  // namespace lsk::cuda
