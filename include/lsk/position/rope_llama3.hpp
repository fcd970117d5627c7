// lsk/position/rope_llama3.hpp: Llama 3.1 frequency scaling (HF rope_type "llama3").
//
// Algorithm: with L0 = original_max_position_embeddings, wavelength
// w_i = 2 pi / inv_freq_i of plain RoPE, low = L0 / low_freq_factor and
// high = L0 / high_freq_factor (wavelengths):
//     w_i < high            unchanged (high frequencies)
//     w_i > low             inv_freq_i / factor (low frequencies)
//     otherwise             (1 - s) inv_freq_i / factor + s inv_freq_i,
//                           s = (L0 / w_i - low_freq_factor) / (high_freq_factor - low_freq_factor)
// attention_factor is 1.
// Numerics: double. Tests: tests/unit/test_rope_golden.cpp (llama3_* fixtures,
// Llama 3.1's own parameters among them), test_rope_properties.cpp (high
// frequencies untouched, low ones divided by factor).
#pragma once

#include <numbers>

#include "lsk/position/rope_default.hpp"

namespace lsk::position {

class llama3_rope {
 public:
  explicit llama3_rope(const rope_config& c)
      : head_dim_(c.head_dim),
        rotary_dim_(c.rotary_dim()),
        theta_(c.theta),
        factor_(c.factor.value_or(1.0)),
        low_freq_factor_(c.low_freq_factor.value_or(1.0)),
        high_freq_factor_(c.high_freq_factor.value_or(4.0)),
        original_(c.original_length()) {
    validate(c);
  }
  index_t head_dim() const { return head_dim_; }
  index_t rotary_dim() const { return rotary_dim_; }
  // Wavelengths (in positions) below which pairs are untouched, above which they are divided by factor.
  double high_freq_wavelength() const { return static_cast<double>(original_) / high_freq_factor_; }
  double low_freq_wavelength() const { return static_cast<double>(original_) / low_freq_factor_; }

  std::vector<double> inv_freq(index_t /*seq_len*/ = 0) const {
    auto f = default_inv_freq(theta_, rotary_dim_);
    const double low_wl = low_freq_wavelength(), high_wl = high_freq_wavelength();
    for (double& v : f) {
      const double wavelength = 2.0 * std::numbers::pi / v;
      if (wavelength > low_wl) {
        v /= factor_;
      } else if (!(wavelength < high_wl)) {
        const double s =
            (static_cast<double>(original_) / wavelength - low_freq_factor_) / (high_freq_factor_ - low_freq_factor_);
        v = (1.0 - s) * v / factor_ + s * v;
      }
    }
    return f;
  }
  double attention_factor() const { return 1.0; }

 private:
  index_t head_dim_, rotary_dim_;
  double theta_, factor_, low_freq_factor_, high_freq_factor_;
  index_t original_;
};

}  // namespace lsk::position
