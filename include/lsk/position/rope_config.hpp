// lsk/position/rope_config.hpp: the RoPE part of a model configuration, as a value.
//
// rope_config holds what Hugging Face transformers reads from config.json to
// build the rotary embedding: the rope_type (here rope_scaling: none is HF's
// "default"), rope_theta, the head dimension, partial_rotary_factor,
// max_position_embeddings and the type's parameters, each optional parameter
// kept optional so that a config read and written again says the same thing.
// Reading and writing config.json (both the older `rope_scaling` and the newer
// `rope_parameters` conventions) is in rope_json.hpp; changing the encoding of
// a trained model (a new base, NTK-aware scaling, YaRN, ...) is one call in
// rope_edit.hpp. validate() says what is wrong, naming the HF key.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsk/core/error.hpp"
#include "lsk/core/shape.hpp"

namespace lsk::position {

// Hugging Face's rope_type values. `none` is "default": plain RoPE with base
// rope_theta (a raised base, ABF or static NTK-aware scaling, is `none` with a
// different theta).
enum class rope_scaling { none, linear, dynamic, yarn, longrope, llama3 };

constexpr std::string_view name(rope_scaling s) {
  switch (s) {
    case rope_scaling::none:
      return "default";
    case rope_scaling::linear:
      return "linear";
    case rope_scaling::dynamic:
      return "dynamic";
    case rope_scaling::yarn:
      return "yarn";
    case rope_scaling::longrope:
      return "longrope";
    case rope_scaling::llama3:
      return "llama3";
  }
  return "?";
}

inline std::optional<rope_scaling> rope_scaling_from_name(std::string_view s) {
  for (rope_scaling k : {rope_scaling::none, rope_scaling::linear, rope_scaling::dynamic, rope_scaling::yarn,
                         rope_scaling::longrope, rope_scaling::llama3}) {
    if (s == name(k)) return k;
  }
  return std::nullopt;
}

struct rope_config {
  rope_scaling scaling = rope_scaling::none;  // rope_type
  double theta = 10000.0;                     // rope_theta
  index_t head_dim = 0;                       // head_dim, or hidden_size / num_attention_heads
  double partial_rotary_factor = 1.0;         // fraction of head_dim that rotates
  index_t max_position_embeddings = 0;        // 0: not given

  // The type's parameters (HF names); absent ones take HF's defaults.
  std::optional<double> factor;                             // linear, dynamic, yarn, longrope, llama3
  std::optional<index_t> original_max_position_embeddings;  // yarn, longrope, llama3
  std::optional<double> attention_factor;                   // yarn, longrope
  std::optional<double> beta_fast, beta_slow;               // yarn (32, 1)
  std::optional<double> mscale, mscale_all_dim;             // yarn
  std::optional<bool> truncate;                             // yarn (true)
  std::vector<double> short_factor, long_factor;            // longrope
  std::optional<double> low_freq_factor, high_freq_factor;  // llama3

  // HF: int(head_dim * partial_rotary_factor).
  index_t rotary_dim() const { return static_cast<index_t>(static_cast<double>(head_dim) * partial_rotary_factor); }
  // The pretraining length the scaled types extend from: HF falls back to
  // max_position_embeddings when original_max_position_embeddings is absent.
  index_t original_length() const { return original_max_position_embeddings.value_or(max_position_embeddings); }

  friend bool operator==(const rope_config&, const rope_config&) = default;
};

namespace detail {
inline bool finite_positive(double v) { return std::isfinite(v) && v > 0.0; }

// `prefix` names the dict the type's parameters live in ("rope_scaling." or
// "rope_parameters."), so messages name the key as written in config.json.
inline void require_factor(const rope_config& c, std::string_view prefix) {
  if (!c.factor) raise<config_error>("rope ", name(c.scaling), ": key '", prefix, "factor' is required");
  if (!finite_positive(*c.factor)) {
    raise<config_error>("rope ", name(c.scaling), ": key '", prefix, "factor' must be a finite number > 0, got ",
                        *c.factor);
  }
}

inline void require_original_length(const rope_config& c, std::string_view prefix) {
  if (c.original_max_position_embeddings && *c.original_max_position_embeddings <= 0) {
    raise<config_error>("rope ", name(c.scaling), ": key '", prefix,
                        "original_max_position_embeddings' must be > 0, got ", *c.original_max_position_embeddings);
  }
  if (c.original_length() <= 0) {
    raise<config_error>("rope ", name(c.scaling), ": key '", prefix,
                        "original_max_position_embeddings' (or 'max_position_embeddings') is required");
  }
}

inline void require_optional_positive(const rope_config& c, const std::optional<double>& v, std::string_view key,
                                      std::string_view prefix) {
  if (v && !finite_positive(*v)) {
    raise<config_error>("rope ", name(c.scaling), ": key '", prefix, key, "' must be a finite number > 0, got ", *v);
  }
}

inline void require_factor_list(const rope_config& c, const std::vector<double>& v, std::string_view key,
                                std::string_view prefix) {
  const index_t pairs = c.rotary_dim() / 2;
  if (static_cast<index_t>(v.size()) != pairs) {
    raise<config_error>("rope longrope: key '", prefix, key, "' must hold rotary_dim / 2 = ", pairs, " numbers, got ",
                        v.size());
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!finite_positive(v[i])) {
      raise<config_error>("rope longrope: key '", prefix, key, "[", i, "]' must be a finite number > 0, got ", v[i]);
    }
  }
}
}  // namespace detail

// Throws config_error, naming the key, unless c describes a RoPE that
// transformers can build and lsk computes the same way.
inline void validate(const rope_config& c, std::string_view prefix = "") {
  using detail::finite_positive;
  if (!std::isfinite(c.theta) || !(c.theta > 1.0)) {
    raise<config_error>("rope: key 'rope_theta' must be a finite number > 1, got ", c.theta);
  }
  if (c.head_dim <= 0) raise<config_error>("rope: key 'head_dim' must be > 0, got ", c.head_dim);
  if (!(c.partial_rotary_factor > 0.0 && c.partial_rotary_factor <= 1.0)) {
    raise<config_error>("rope: key 'partial_rotary_factor' must be in (0, 1], got ", c.partial_rotary_factor);
  }
  const index_t r = c.rotary_dim();
  if (r < 2 || r % 2 != 0) {
    raise<config_error>("rope: key 'partial_rotary_factor' ", c.partial_rotary_factor, " with head_dim ", c.head_dim,
                        " gives rotary dimension ", r, "; it must be even and >= 2");
  }
  if (c.max_position_embeddings < 0) {
    raise<config_error>("rope: key 'max_position_embeddings' must be > 0, got ", c.max_position_embeddings);
  }
  switch (c.scaling) {
    case rope_scaling::none:
      break;
    case rope_scaling::linear:
      detail::require_factor(c, prefix);
      break;
    case rope_scaling::dynamic:
      detail::require_factor(c, prefix);
      if (c.max_position_embeddings <= 0) {
        raise<config_error>("rope dynamic: key 'max_position_embeddings' is required (the original length)");
      }
      if (r <= 2) raise<config_error>("rope dynamic: the rotary dimension must be > 2, got ", r);
      break;
    case rope_scaling::yarn:
      detail::require_original_length(c, prefix);
      if (c.factor) {
        detail::require_factor(c, prefix);
      } else if (c.max_position_embeddings <= 0 || !c.original_max_position_embeddings) {
        raise<config_error>("rope yarn: key '", prefix,
                            "factor' is required unless max_position_embeddings and original_max_position_embeddings "
                            "are both given");
      }
      detail::require_optional_positive(c, c.attention_factor, "attention_factor", prefix);
      for (const auto* v : {&c.beta_fast, &c.beta_slow, &c.mscale, &c.mscale_all_dim}) {
        if (*v && !std::isfinite(**v))
          raise<config_error>("rope yarn: a beta or mscale key of '", prefix, "' is not finite");
      }
      break;
    case rope_scaling::longrope:
      detail::require_original_length(c, prefix);
      detail::require_factor_list(c, c.short_factor, "short_factor", prefix);
      detail::require_factor_list(c, c.long_factor, "long_factor", prefix);
      if (c.factor) {
        detail::require_factor(c, prefix);
      } else if (c.max_position_embeddings <= 0) {
        raise<config_error>("rope longrope: key '", prefix, "factor' or 'max_position_embeddings' is required");
      }
      detail::require_optional_positive(c, c.attention_factor, "attention_factor", prefix);
      break;
    case rope_scaling::llama3:
      detail::require_factor(c, prefix);
      detail::require_original_length(c, prefix);
      if (!c.low_freq_factor) raise<config_error>("rope llama3: key '", prefix, "low_freq_factor' is required");
      if (!c.high_freq_factor) raise<config_error>("rope llama3: key '", prefix, "high_freq_factor' is required");
      detail::require_optional_positive(c, c.low_freq_factor, "low_freq_factor", prefix);
      detail::require_optional_positive(c, c.high_freq_factor, "high_freq_factor", prefix);
      if (!(*c.high_freq_factor > *c.low_freq_factor)) {
        raise<config_error>("rope llama3: key '", prefix, "high_freq_factor' (", *c.high_freq_factor,
                            ") must be greater than low_freq_factor (", *c.low_freq_factor, ")");
      }
      break;
  }
}

}  // namespace lsk::position
