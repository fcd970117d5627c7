// lsk/backends/cuda/model_attention.hpp: the attention a Llama model runs on the
// CUDA backend (lsk::cuda::backend::attention_type; lsk/concepts/attention.hpp).
//
// f32 models with head_dim 64 or 128: the flash-attention kernels
// (flash_attention.hpp) in bf16 with f32 accumulation, i.e. mixed precision
// inside attention only: q, k, v are rounded to bf16, the output and the
// gradients dq, dk, dv come back as f32 from bf16 kernel outputs. Causal and
// document masks (the model's per-token ids, on the device). The backward is
// the kernels' deterministic one (dq without atomics); a whole step still
// varies in the last bits between runs (embedding_backward's atomic adds).
// Every other case (f64 models, other head sizes): the naive attention on the
// backend's ops (cuBLAS products, causal softmax; f32/f64 throughout;
// document masks refused there).
// saved (per layer, in elements of the model's type T = float): lse (tokens x
// heads) f32, then bf16 copies of q, k, v and the output, then the sequence
// offsets; scratch: bf16 dout, dq, dk, dv and the kernel's workspace. Every
// region starts on a 16-byte boundary (the kernels' vector loads).
// Tested on an H100 against the cpu model (backends/cuda/tests/test_cuda_model.cpp,
// skipped without a GPU; results in docs/PERFORMANCE.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "lsk/attention/naive.hpp"
#include "lsk/backends/cuda/convert.hpp"
#include "lsk/backends/cuda/flash_attention.hpp"

namespace lsk::cuda {

namespace model_attention_detail {
// Byte offsets of the regions (each 16-byte aligned) and the total.
struct saved_regions {
  std::size_t lse, q, k, v, o, offsets_q, offsets_k, end;
};
struct scratch_regions {
  std::size_t dout, dq, dk, dv, workspace, end;
};

inline std::size_t aligned(std::size_t bytes) { return (bytes + 15) / 16 * 16; }
inline index_t floats(std::size_t bytes) { return static_cast<index_t>(aligned(bytes) / sizeof(float)); }
template <class V>
std::size_t count(const V& view) {
  return static_cast<std::size_t>(view.numel());
}
inline int narrow(index_t n) {
  if (n > 2147483647) raise<shape_error>("cuda model attention: ", n, " exceeds the kernels' int32 sizes");
  return static_cast<int>(n);
}

inline saved_regions saved_layout(const attention::attention_shape& s) {
  const auto q_elems = static_cast<std::size_t>(s.batch * s.q_len * s.heads * s.head_dim);
  const auto kv_elems = static_cast<std::size_t>(s.batch * s.k_len * s.kv_heads * s.head_dim);
  const auto offsets = static_cast<std::size_t>(s.batch + 1) * sizeof(std::int32_t);
  saved_regions r{};
  std::size_t at = 0;
  const auto take = [&](std::size_t bytes) {
    const std::size_t start = at;
    at += aligned(bytes);
    return start;
  };
  r.lse = take(static_cast<std::size_t>(s.batch * s.q_len * s.heads) * sizeof(float));
  r.q = take(q_elems * sizeof(bf16));
  r.k = take(kv_elems * sizeof(bf16));
  r.v = take(kv_elems * sizeof(bf16));
  r.o = take(q_elems * sizeof(bf16));
  r.offsets_q = take(offsets);
  r.offsets_k = take(offsets);
  r.end = at;
  return r;
}
inline scratch_regions scratch_layout(const attention::attention_shape& s) {
  const auto q_elems = static_cast<std::size_t>(s.batch * s.q_len * s.heads * s.head_dim);
  const auto kv_elems = static_cast<std::size_t>(s.batch * s.k_len * s.kv_heads * s.head_dim);
  scratch_regions w{};
  std::size_t at = 0;
  const auto take = [&](std::size_t bytes) {
    const std::size_t start = at;
    at += aligned(bytes);
    return start;
  };
  w.dout = take(q_elems * sizeof(bf16));
  w.dq = take(q_elems * sizeof(bf16));
  w.dk = take(kv_elems * sizeof(bf16));
  w.dv = take(kv_elems * sizeof(bf16));
  w.workspace = take(
      flash_attention_backward_workspace_bytes(narrow(s.batch * s.q_len), narrow(s.heads), narrow(s.head_dim), true));
  w.end = at;
  return w;
}

// The regions as pointers into a layer's saved buffer / the backward scratch
// (read or written as each call says, hence the casts from const).
struct saved_buffers {
  float* lse;
  bf16 *q, *k, *v, *o;
  std::int32_t *offsets_q, *offsets_k;
};
struct scratch_buffers {
  bf16 *dout, *dq, *dk, *dv;
  void* workspace;
};
inline saved_buffers saved_at(const void* saved, const attention::attention_shape& s) {
  auto* base = static_cast<std::byte*>(const_cast<void*>(saved));
  const saved_regions r = saved_layout(s);
  return {reinterpret_cast<float*>(base + r.lse),
          reinterpret_cast<bf16*>(base + r.q),
          reinterpret_cast<bf16*>(base + r.k),
          reinterpret_cast<bf16*>(base + r.v),
          reinterpret_cast<bf16*>(base + r.o),
          reinterpret_cast<std::int32_t*>(base + r.offsets_q),
          reinterpret_cast<std::int32_t*>(base + r.offsets_k)};
}
inline scratch_buffers scratch_at(void* scratch, const attention::attention_shape& s) {
  auto* base = static_cast<std::byte*>(scratch);
  const scratch_regions w = scratch_layout(s);
  return {reinterpret_cast<bf16*>(base + w.dout), reinterpret_cast<bf16*>(base + w.dq),
          reinterpret_cast<bf16*>(base + w.dk), reinterpret_cast<bf16*>(base + w.dv), base + w.workspace};
}

}  // namespace model_attention_detail

struct model_attention {
  static constexpr std::string_view name = "cuda_flash";

  // Whether shape s runs on the flash kernels (f32 models only; see the header).
  static bool fused(const attention::attention_shape& s) { return s.head_dim == 64 || s.head_dim == 128; }

  index_t saved_size(const attention::attention_shape& s) const {
    using namespace model_attention_detail;
    return fused(s) ? floats(saved_layout(s).end) : attention::naive_attention{}.saved_size(s);
  }
  index_t scratch_size(const attention::attention_shape& s) const {
    using namespace model_attention_detail;
    return fused(s) ? floats(scratch_layout(s).end) : attention::naive_attention{}.scratch_size(s);
  }

  template <Backend B, real_scalar T>
  void forward(B& be, const attention::attention_shape& s, const attention::attention_mask& mask, const_view<T> q,
               const_view<T> k, const_view<T> v, T scale, tensor_view<T> saved, tensor_view<T> out) const {
    using namespace model_attention_detail;
    if (!fused(s)) {
      attention::naive_attention{}.forward<B, T>(be, s, mask, q, k, v, scale, saved, out);
      return;
    }
    if constexpr (!std::is_same_v<T, float>) {
      raise<unsupported_error>("cuda model attention: head_dim ", s.head_dim, " runs on bf16 kernels, for f32 models");
    } else {
      const saved_buffers b = saved_at(saved.data(), s);
      const cudaStream_t stream = be.stream();
      f32_to_bf16(q.data(), b.q, count(q), stream);
      f32_to_bf16(k.data(), b.k, count(k), stream);
      f32_to_bf16(v.data(), b.v, count(v), stream);
      fill_sequence_offsets(b.offsets_q, narrow(s.batch), narrow(s.q_len), stream);
      fill_sequence_offsets(b.offsets_k, narrow(s.batch), narrow(s.k_len), stream);
      flash_attention_params p = params(s, mask, scale, b);
      flash_attention_forward(p, stream);
      bf16_to_f32(b.o, out.data(), count(out), stream);
    }
  }

  template <Backend B, real_scalar T>
  void backward(B& be, const attention::attention_shape& s, const attention::attention_mask& mask, const_view<T> q,
                const_view<T> k, const_view<T> v, const_view<T> out, const_view<T> saved, const_view<T> dout, T scale,
                tensor_view<T> scratch, tensor_view<T> dq, tensor_view<T> dk, tensor_view<T> dv) const {
    using namespace model_attention_detail;
    if (!fused(s)) {
      attention::naive_attention{}.backward<B, T>(be, s, mask, q, k, v, out, saved, dout, scale, scratch, dq, dk, dv);
      return;
    }
    if constexpr (!std::is_same_v<T, float>) {
      raise<unsupported_error>("cuda model attention: head_dim ", s.head_dim, " runs on bf16 kernels, for f32 models");
    } else {
      const saved_buffers b = saved_at(saved.data(), s);  // read by the backward
      const scratch_buffers w = scratch_at(scratch.data(), s);
      const cudaStream_t stream = be.stream();
      f32_to_bf16(dout.data(), w.dout, count(dout), stream);
      flash_attention_backward_params p;
      p.fwd = params(s, mask, scale, b);
      p.dout = w.dout;
      p.dq = w.dq;
      p.dk = w.dk;
      p.dv = w.dv;
      p.total_q = narrow(s.batch * s.q_len);
      p.workspace = w.workspace;
      p.deterministic = true;
      flash_attention_backward(p, stream);
      bf16_to_f32(w.dq, dq.data(), count(dq), stream);
      bf16_to_f32(w.dk, dk.data(), count(dk), stream);
      bf16_to_f32(w.dv, dv.data(), count(dv), stream);
    }
  }

 private:
  static flash_attention_params params(const attention::attention_shape& s, const attention::attention_mask& mask,
                                       float scale, const model_attention_detail::saved_buffers& b) {
    using model_attention_detail::narrow;
    flash_attention_params p;
    p.q = b.q;
    p.k = b.k;
    p.v = b.v;
    p.o = b.o;
    p.lse = b.lse;
    p.cu_seqlens_q = b.offsets_q;
    p.cu_seqlens_k = b.offsets_k;
    p.documents = mask.by_document() ? mask.documents.data() : nullptr;
    p.batch = narrow(s.batch);
    p.max_seqlen_q = narrow(s.q_len);
    p.max_seqlen_k = narrow(s.k_len);
    p.heads = narrow(s.heads);
    p.kv_heads = narrow(s.kv_heads);
    p.head_dim = narrow(s.head_dim);
    p.scale = scale;
    p.causal = true;
    return p;
  }
};

}  // namespace lsk::cuda
