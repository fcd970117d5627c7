// lsk/position/rope_default.hpp: plain RoPE (HF rope_type "default"), the NTK-aware
// base formula, and the helpers every scaled type builds on.
//
// Algorithm: inv_freq[i] = 1 / theta^(2i / d), i = 0 .. d/2 - 1, d the rotary
// dimension (int(head_dim * partial_rotary_factor)). A raised base (ABF,
// Xiong et al. 2023) and static NTK-aware scaling are this with another theta:
// NTK-aware for a context s times longer uses theta' = theta * s^(d / (d - 2)),
// which keeps the highest frequency and divides the lowest by s.
// Numerics: double throughout (transformers computes in float32; the golden
// fixtures hold its float32 values and lsk matches them to 1e-6 relative).
// Tests: tests/unit/test_rope_golden.cpp (fixtures from transformers 5.23.0:
// default_*, ntk_aware_*, abf_*), tests/unit/test_rope_properties.cpp (the
// NTK-aware formula, the value at i = 0 and the last pair).
#pragma once

#include <cmath>
#include <vector>

#include "lsk/position/rope_config.hpp"

namespace lsk::position {

// 1 / theta^(2i / dim) for i < dim / 2.
inline std::vector<double> default_inv_freq(double theta, index_t dim) {
  std::vector<double> f(static_cast<std::size_t>(dim / 2));
  for (std::size_t i = 0; i < f.size(); ++i) {
    f[i] = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(dim));
  }
  return f;
}

// The NTK-aware base for a context `scale` times longer: theta * scale^(dim / (dim - 2)).
inline double ntk_aware_base(double theta, double scale, index_t dim) {
  if (dim <= 2) raise<config_error>("ntk_aware_base: the rotary dimension must be > 2, got ", dim);
  if (!(scale > 0.0) || !std::isfinite(scale)) raise<config_error>("ntk_aware_base: scale must be > 0, got ", scale);
  return theta * std::pow(scale, static_cast<double>(dim) / static_cast<double>(dim - 2));
}

// Plain RoPE with base theta.
class default_rope {
 public:
  explicit default_rope(const rope_config& c) : head_dim_(c.head_dim), rotary_dim_(c.rotary_dim()), theta_(c.theta) {
    validate(c);
  }
  index_t head_dim() const { return head_dim_; }
  index_t rotary_dim() const { return rotary_dim_; }
  std::vector<double> inv_freq(index_t /*seq_len*/ = 0) const { return default_inv_freq(theta_, rotary_dim_); }
  double attention_factor() const { return 1.0; }

 private:
  index_t head_dim_, rotary_dim_;
  double theta_;
};

}  // namespace lsk::position
