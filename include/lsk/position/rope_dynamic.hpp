// lsk/position/rope_dynamic.hpp: dynamic NTK scaling (HF rope_type "dynamic").
//
// Algorithm: for the current sequence length n (the largest position + 1),
// L = max_position_embeddings and d the rotary dimension,
//     n' = max(n, L),  theta' = theta * (factor * n' / L - (factor - 1))^(d / (d - 2)),
// then plain RoPE with theta'. At or below L nothing changes. n = 0 ("not known
// yet") means n' = L. Transformers' module keeps state on top of this formula
// (rope_state in rope.hpp does the same): the frequencies are recomputed when a
// call's length grows past the longest seen so far, and reset to the original
// ones when a call is shorter than L after having grown.
// Numerics: double, with the same order of operations as transformers.
// Tests: tests/unit/test_rope_golden.cpp (dynamic_* fixtures at several lengths,
// and the stateful module's grow / keep / reset sequence), test_rope_properties.cpp
// (unchanged at or below L).
#pragma once

#include <algorithm>
#include <cmath>

#include "lsk/position/rope_default.hpp"

namespace lsk::position {

class dynamic_ntk_rope {
 public:
  explicit dynamic_ntk_rope(const rope_config& c)
      : head_dim_(c.head_dim),
        rotary_dim_(c.rotary_dim()),
        theta_(c.theta),
        factor_(c.factor.value_or(1.0)),
        original_(c.max_position_embeddings) {
    validate(c);
  }
  index_t head_dim() const { return head_dim_; }
  index_t rotary_dim() const { return rotary_dim_; }
  // The length the scaling was trained at (max_position_embeddings).
  index_t original_length() const { return original_; }

  // The base used for sequence length n.
  double base(index_t n = 0) const {
    const double len = static_cast<double>(std::max(n, original_));
    const double d = static_cast<double>(rotary_dim_);
    return theta_ * std::pow(factor_ * len / static_cast<double>(original_) - (factor_ - 1.0), d / (d - 2.0));
  }
  std::vector<double> inv_freq(index_t n = 0) const { return default_inv_freq(base(n), rotary_dim_); }
  double attention_factor() const { return 1.0; }

 private:
  index_t head_dim_, rotary_dim_;
  double theta_, factor_;
  index_t original_;
};

}  // namespace lsk::position
