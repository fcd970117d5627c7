// lsk/concepts/archetypes.hpp: the smallest types that model each concept
// (archetypes), and types that are each one requirement short of it.
//
// Generic code is compiled against the archetype to prove it asks for nothing
// beyond the concept; tests assert that each broken type is rejected, so a
// concept that silently loosens fails a test. Members are declared, never
// defined: these types exist for the type checker only.
#pragma once

#include "lsk/concepts/backend.hpp"
#include "lsk/concepts/position_encoding.hpp"
#include "lsk/concepts/tokenizer.hpp"

namespace lsk::archetypes {

#define LSK_ARCHETYPE_BACKEND_OPS(T)                                                                                 \
  void embedding_forward(const_view<std::int32_t>, const_view<T>, tensor_view<T>);                                   \
  void embedding_backward(const_view<std::int32_t>, const_view<T>, tensor_view<T>);                                  \
  void rmsnorm_forward(const_view<T>, const_view<T>, T, tensor_view<T>, tensor_view<T>);                             \
  void rmsnorm_backward(const_view<T>, const_view<T>, const_view<T>, const_view<T>, tensor_view<T>, tensor_view<T>); \
  void silu_forward(const_view<T>, tensor_view<T>);                                                                  \
  void silu_backward(const_view<T>, const_view<T>, tensor_view<T>);                                                  \
  void swiglu_forward(const_view<T>, const_view<T>, tensor_view<T>);                                                 \
  void swiglu_backward(const_view<T>, const_view<T>, const_view<T>, tensor_view<T>, tensor_view<T>);                 \
  void softmax_forward(const_view<T>, T, tensor_view<T>);                                                            \
  void causal_softmax_forward(const_view<T>, T, tensor_view<T>);                                                     \
  void softmax_backward(const_view<T>, const_view<T>, T, tensor_view<T>);                                            \
  double cross_entropy_forward(const_view<T>, const_view<std::int32_t>, const_view<std::uint8_t>, tensor_view<T>);   \
  void cross_entropy_backward(const_view<T>, const_view<std::int32_t>, const_view<std::uint8_t>, const_view<T>, T,   \
                              tensor_view<T>);                                                                       \
  void add(const_view<T>, const_view<T>, tensor_view<T>);                                                            \
  void mul(const_view<T>, const_view<T>, tensor_view<T>);                                                            \
  void scale(const_view<T>, T, tensor_view<T>);                                                                      \
  void axpy(T, const_view<T>, tensor_view<T>);                                                                       \
  void fill(tensor_view<T>, T);                                                                                      \
  void sum_rows(const_view<T>, tensor_view<T>);                                                                      \
  void broadcast_rows(const_view<T>, tensor_view<T>);                                                                \
  void rope_forward(const_view<T>, const_view<std::int32_t>, const_view<T>, const_view<T>, rope_layout,              \
                    tensor_view<T>);                                                                                 \
  void rope_backward(const_view<T>, const_view<std::int32_t>, const_view<T>, const_view<T>, rope_layout,             \
                     tensor_view<T>);                                                                                \
  void adamw_update(tensor_view<T>, const_view<T>, tensor_view<T>, tensor_view<T>, const adamw_coefficients<T>&);    \
  double max_abs(const_view<T>);

// Models Backend for f32 only.
struct backend {
  static constexpr std::string_view name = "archetype";
  static constexpr memory_space memory = memory_space::host;
  bool supports(op_kind, dtype) const;
  void gemm(const gemm_problem<float>&);
  double sum(const_view<float>);
  double sum_squares(const_view<float>);
  LSK_ARCHETYPE_BACKEND_OPS(float)
};

// One requirement short each.
struct backend_without_gemm {
  static constexpr std::string_view name = "broken";
  static constexpr memory_space memory = memory_space::host;
  bool supports(op_kind, dtype) const;
  double sum(const_view<float>);
  double sum_squares(const_view<float>);
  LSK_ARCHETYPE_BACKEND_OPS(float)
};

struct backend_without_name {
  static constexpr memory_space memory = memory_space::host;
  bool supports(op_kind, dtype) const;
  void gemm(const gemm_problem<float>&);
  double sum(const_view<float>);
  double sum_squares(const_view<float>);
  LSK_ARCHETYPE_BACKEND_OPS(float)
};

struct backend_with_wrong_reduction {  // sum returns float, not a host double
  static constexpr std::string_view name = "broken";
  static constexpr memory_space memory = memory_space::host;
  bool supports(op_kind, dtype) const;
  void gemm(const gemm_problem<float>&);
  float sum(const_view<float>);
  double sum_squares(const_view<float>);
  LSK_ARCHETYPE_BACKEND_OPS(float)
};

struct backend_without_supports {
  static constexpr std::string_view name = "broken";
  static constexpr memory_space memory = memory_space::host;
  void gemm(const gemm_problem<float>&);
  double sum(const_view<float>);
  double sum_squares(const_view<float>);
  LSK_ARCHETYPE_BACKEND_OPS(float)
};

#undef LSK_ARCHETYPE_BACKEND_OPS

// Models PositionEncoding.
struct position_encoding {
  index_t head_dim() const;
  index_t rotary_dim() const;
  std::vector<double> inv_freq(index_t seq_len) const;
  double attention_factor() const;
};

// One requirement short each.
struct position_encoding_without_attention_factor {
  index_t head_dim() const;
  index_t rotary_dim() const;
  std::vector<double> inv_freq(index_t seq_len) const;
};

struct position_encoding_with_float_inv_freq {  // frequencies must be double
  index_t head_dim() const;
  index_t rotary_dim() const;
  std::vector<float> inv_freq(index_t seq_len) const;
  double attention_factor() const;
};

struct position_encoding_without_length {  // inv_freq must take the sequence length
  index_t head_dim() const;
  index_t rotary_dim() const;
  std::vector<double> inv_freq() const;
  double attention_factor() const;
};

struct position_encoding_not_copyable {
  position_encoding_not_copyable(const position_encoding_not_copyable&) = delete;
  index_t head_dim() const;
  index_t rotary_dim() const;
  std::vector<double> inv_freq(index_t seq_len) const;
  double attention_factor() const;
};

// ---- Tokenizer ----------------------------------------------------------------

// Models Tokenizer.
struct tokenizer {
  std::vector<std::int32_t> encode(std::string_view) const;
  std::string decode(std::span<const std::int32_t>) const;
  std::int32_t vocab_size() const;
  std::int32_t bos_id() const;
  std::int32_t eos_id() const;
  std::int32_t pad_id() const;
};

// One requirement short each.
struct tokenizer_without_decode {
  std::vector<std::int32_t> encode(std::string_view) const;
  std::int32_t vocab_size() const;
  std::int32_t bos_id() const;
  std::int32_t eos_id() const;
  std::int32_t pad_id() const;
};

struct tokenizer_with_wide_ids {  // ids must be int32
  std::vector<std::int64_t> encode(std::string_view) const;
  std::string decode(std::span<const std::int32_t>) const;
  std::int32_t vocab_size() const;
  std::int32_t bos_id() const;
  std::int32_t eos_id() const;
  std::int32_t pad_id() const;
};

struct tokenizer_with_mutable_encode {  // encode must be const
  std::vector<std::int32_t> encode(std::string_view);
  std::string decode(std::span<const std::int32_t>) const;
  std::int32_t vocab_size() const;
  std::int32_t bos_id() const;
  std::int32_t eos_id() const;
  std::int32_t pad_id() const;
};

struct tokenizer_without_special_ids {  // no bos_id / eos_id
  std::vector<std::int32_t> encode(std::string_view) const;
  std::string decode(std::span<const std::int32_t>) const;
  std::int32_t vocab_size() const;
  std::int32_t pad_id() const;
};

}  // namespace lsk::archetypes
