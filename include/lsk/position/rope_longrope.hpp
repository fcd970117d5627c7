// lsk/position/rope_longrope.hpp: LongRoPE (HF rope_type "longrope"; Ding et al. 2024, Phi-3).
//
// Algorithm: per-pair rescale factors, one list for short and one for long
// contexts: with L0 = original_max_position_embeddings,
//     ext = long_factor if n > L0 else short_factor    (n = 0: short)
//     inv_freq[i] = 1 / (ext[i] * theta^(2i / d))
// factor = the dict's value, else max_position_embeddings / L0;
// attention_factor = the dict's value, else 1 when factor <= 1, else
// sqrt(1 + ln(factor) / ln(L0)). A top-level original_max_position_embeddings
// (Phi-3's config.json) wins over the dict's, as in transformers.
// Numerics: double. Tests: tests/unit/test_rope_golden.cpp (longrope_* fixtures
// at lengths below and above L0, explicit and derived factor and attention).
#pragma once

#include <cmath>

#include "lsk/position/rope_default.hpp"

namespace lsk::position {

class long_rope {
 public:
  explicit long_rope(const rope_config& c)
      : head_dim_(c.head_dim),
        rotary_dim_(c.rotary_dim()),
        theta_(c.theta),
        short_(c.short_factor),
        long_(c.long_factor) {
    validate(c);
    original_ = c.original_length();
    const double factor =
        c.factor ? *c.factor : static_cast<double>(c.max_position_embeddings) / static_cast<double>(original_);
    if (c.attention_factor) {
      attention_ = *c.attention_factor;
    } else {
      attention_ = factor <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(factor) / std::log(static_cast<double>(original_)));
    }
  }
  index_t head_dim() const { return head_dim_; }
  index_t rotary_dim() const { return rotary_dim_; }
  index_t original_length() const { return original_; }
  std::vector<double> inv_freq(index_t n = 0) const {
    const std::vector<double>& ext = n > original_ ? long_ : short_;
    std::vector<double> f(static_cast<std::size_t>(rotary_dim_ / 2));
    for (std::size_t i = 0; i < f.size(); ++i) {
      f[i] = 1.0 / (ext[i] * std::pow(theta_, static_cast<double>(2 * i) / static_cast<double>(rotary_dim_)));
    }
    return f;
  }
  double attention_factor() const { return attention_; }

 private:
  index_t head_dim_, rotary_dim_;
  double theta_;
  std::vector<double> short_, long_;
  index_t original_ = 0;
  double attention_ = 1.0;
};

}  // namespace lsk::position
