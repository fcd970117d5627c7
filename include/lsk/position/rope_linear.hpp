// lsk/position/rope_linear.hpp: linear scaling, position interpolation (HF rope_type "linear").
//
// Algorithm: positions p -> p / factor (Chen et al. 2023, kaiokendev), done as
// inv_freq[i] = default inv_freq[i] / factor, which gives the same angles.
// Numerics: double. Tests: tests/unit/test_rope_golden.cpp (linear_* fixtures
// from transformers), tests/unit/test_rope_properties.cpp (linear == default / factor).
#pragma once

#include "lsk/position/rope_default.hpp"

namespace lsk::position {

class linear_rope {
 public:
  explicit linear_rope(const rope_config& c)
      : head_dim_(c.head_dim), rotary_dim_(c.rotary_dim()), theta_(c.theta), factor_(c.factor.value_or(1.0)) {
    validate(c);
  }
  index_t head_dim() const { return head_dim_; }
  index_t rotary_dim() const { return rotary_dim_; }
  std::vector<double> inv_freq(index_t /*seq_len*/ = 0) const {
    auto f = default_inv_freq(theta_, rotary_dim_);
    for (double& v : f) v /= factor_;
    return f;
  }
  double attention_factor() const { return 1.0; }

 private:
  index_t head_dim_, rotary_dim_;
  double theta_, factor_;
};

}  // namespace lsk::position
