// lsk/position/rope_yarn.hpp: YaRN (HF rope_type "yarn"; Peng et al. 2023, arXiv 2309.00071).
//
// WHICH YaRN. Transformers releases disagree, and lsk follows the newer
// semantics, those of transformers 5.x (the golden fixtures were made with
// transformers 5.23.0 and record that version):
//   - the correction range uses original_max_position_embeddings (from the
//     rope dict, or the top-level key of the same name, which wins, or else
//     max_position_embeddings). Older 4.x releases used
//     config.max_position_embeddings there, whatever the dict said: for configs
//     whose max_position_embeddings is already the extended length, old and
//     new releases give different frequencies.
//   - factor: the dict's value; when it is null or absent,
//     max_position_embeddings / original_max_position_embeddings (5.x requires
//     the key to be present; lsk accepts it absent when both lengths are given).
//   - attention_factor: the dict's value; else, when mscale and mscale_all_dim
//     are both non-zero, mscale(factor, mscale) / mscale(factor, mscale_all_dim);
//     else mscale(factor, 1), where mscale(s, m) = 1 if s <= 1, else 0.1 m ln s + 1.
//     mscale, mscale_all_dim and truncate do not exist in older releases.
//   - beta_fast / beta_slow default to 32 / 1 (a value of 0 also means the default,
//     as in transformers); truncate defaults to true.
//
// Algorithm: d the rotary dimension, L0 the original length, b = theta.
//   correction_dim(r) = d ln(L0 / (2 pi r)) / (2 ln b)
//   low = correction_dim(beta_fast), high = correction_dim(beta_slow), floored and
//   ceiled when truncate; then low = max(low, 0), high = min(high, d - 1), and
//   high += 0.001 when equal.
//   ramp[i] = clamp((i - low) / (high - low), 0, 1),   i = 0 .. d/2 - 1
//   inv_freq[i] = (b^(-2i/d) / factor) * ramp[i] + b^(-2i/d) * (1 - ramp[i])
// so fast pairs (small i) keep their frequency (extrapolation), slow pairs are
// interpolated by factor, with a linear blend between. cos and sin are
// multiplied by attention_factor.
// Numerics: double; transformers computes the table in float32 and the range in
// double, so floor/ceil agree and values match to ~1e-7 relative.
// Tests: tests/unit/test_rope_golden.cpp (yarn_* fixtures: both conventions,
// head dims 64/80/128, factor 2.5/4/7.3/8/40, betas, truncate false, mscale,
// explicit attention factor, factor from lengths, partial rotary),
// tests/unit/test_rope_properties.cpp (inv_freq between default / factor and default).
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>

#include "lsk/position/rope_default.hpp"

namespace lsk::position {

class yarn_rope {
 public:
  explicit yarn_rope(const rope_config& c) : head_dim_(c.head_dim), rotary_dim_(c.rotary_dim()), theta_(c.theta) {
    validate(c);
    original_ = c.original_length();
    factor_ = c.factor ? *c.factor : static_cast<double>(c.max_position_embeddings) / static_cast<double>(original_);
    if (c.attention_factor) {
      attention_ = *c.attention_factor;
    } else if (c.mscale.value_or(0.0) != 0.0 && c.mscale_all_dim.value_or(0.0) != 0.0) {
      attention_ = mscale(factor_, *c.mscale) / mscale(factor_, *c.mscale_all_dim);
    } else {
      attention_ = mscale(factor_, 1.0);
    }
    beta_fast_ = c.beta_fast.value_or(0.0) != 0.0 ? *c.beta_fast : 32.0;
    beta_slow_ = c.beta_slow.value_or(0.0) != 0.0 ? *c.beta_slow : 1.0;
    truncate_ = c.truncate.value_or(true);
  }

  index_t head_dim() const { return head_dim_; }
  index_t rotary_dim() const { return rotary_dim_; }
  double factor() const { return factor_; }
  index_t original_length() const { return original_; }

  // The ramp's ends, in pairs: below low pairs extrapolate, above high they interpolate.
  double ramp_low() const { return std::max(bound(beta_fast_, false), 0.0); }
  double ramp_high() const { return std::min(bound(beta_slow_, true), static_cast<double>(rotary_dim_ - 1)); }

  std::vector<double> inv_freq(index_t /*seq_len*/ = 0) const {
    const double low = ramp_low();
    double high = ramp_high();
    if (low == high) high += 0.001;  // as transformers: no singular ramp
    auto f = default_inv_freq(theta_, rotary_dim_);
    for (std::size_t i = 0; i < f.size(); ++i) {
      const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      const double extrapolate = 1.0 - ramp;
      f[i] = (f[i] / factor_) * (1.0 - extrapolate) + f[i] * extrapolate;
    }
    return f;
  }
  double attention_factor() const { return attention_; }

  // mscale(s, m) = 1 for s <= 1, else 0.1 m ln s + 1.
  static double mscale(double scale, double m) { return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; }

 private:
  // The (fractional) pair index at which a pair makes `rotations` turns over the original length.
  double correction_dim(double rotations) const {
    const double d = static_cast<double>(rotary_dim_);
    return (d * std::log(static_cast<double>(original_) / (rotations * 2.0 * std::numbers::pi))) /
           (2.0 * std::log(theta_));
  }
  double bound(double rotations, bool upper) const {
    const double v = correction_dim(rotations);
    if (!truncate_) return v;
    return upper ? std::ceil(v) : std::floor(v);
  }

  index_t head_dim_, rotary_dim_;
  double theta_;
  index_t original_ = 0;
  double factor_ = 1.0, attention_ = 1.0, beta_fast_ = 32.0, beta_slow_ = 1.0;
  bool truncate_ = true;
};

}  // namespace lsk::position
