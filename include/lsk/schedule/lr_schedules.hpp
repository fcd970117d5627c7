// lsk/schedule/lr_schedules.hpp: learning-rate schedules.
//
// All share a linear warmup from 0 over `warmup` steps (lr(s) = peak * (s + 1) /
// warmup for s < warmup, so the first step already moves), then:
//   constant              peak
//   cosine                min + (peak - min) * (1 + cos(pi * p)) / 2
//   linear                peak + (min - peak) * p
//   warmup_stable_decay   peak until the last `decay` steps, then linear to min
// where p = (step - warmup) / (total - warmup) in [0, 1) is the fraction of the
// post-warmup steps done before this one (Hugging Face's convention: the first
// post-warmup step runs at the peak, the last one just above min). Steps past
// total_steps keep the final value. `lr_schedule` holds any of them as a value
// (for stage plans read from JSON).
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <string_view>

#include "lsk/concepts/lr_schedule.hpp"
#include "lsk/core/error.hpp"

namespace lsk::schedule {

enum class lr_shape { constant, cosine, linear, warmup_stable_decay };

constexpr std::string_view name(lr_shape s) {
  switch (s) {
    case lr_shape::constant:
      return "constant";
    case lr_shape::cosine:
      return "cosine";
    case lr_shape::linear:
      return "linear";
    case lr_shape::warmup_stable_decay:
      return "wsd";
  }
  return "?";
}

class lr_schedule {
 public:
  lr_schedule() = default;
  // total: steps of the stage; warmup, decay: steps (decay only for wsd).
  lr_schedule(lr_shape shape, double peak, std::int64_t total, std::int64_t warmup = 0, double min_lr = 0.0,
              std::int64_t decay = 0)
      : shape_(shape), peak_(peak), min_(min_lr), total_(total), warmup_(warmup), decay_(decay) {
    if (!(peak >= 0) || !std::isfinite(peak))
      raise<config_error>("lr schedule: peak learning rate ", peak, " must be >= 0");
    if (!(min_lr >= 0) || min_lr > peak) raise<config_error>("lr schedule: min_lr ", min_lr, " must be in [0, peak]");
    if (total < 1) raise<config_error>("lr schedule: total steps ", total, " must be >= 1");
    if (warmup < 0 || warmup > total)
      raise<config_error>("lr schedule: warmup ", warmup, " must be in [0, ", total, "]");
    if (shape == lr_shape::warmup_stable_decay && (decay < 0 || decay > total - warmup)) {
      raise<config_error>("lr schedule: decay ", decay, " must be in [0, ", total - warmup, "]");
    }
  }

  double lr(std::int64_t step) const {
    step = std::clamp<std::int64_t>(step, 0, total_ - 1);
    if (step < warmup_) return peak_ * static_cast<double>(step + 1) / static_cast<double>(warmup_);
    const std::int64_t span = total_ - warmup_;
    const double p = static_cast<double>(step - warmup_) / static_cast<double>(span);
    switch (shape_) {
      case lr_shape::constant:
        return peak_;
      case lr_shape::cosine:
        return min_ + (peak_ - min_) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
      case lr_shape::linear:
        return peak_ + (min_ - peak_) * p;
      case lr_shape::warmup_stable_decay: {
        const std::int64_t decay_start = total_ - decay_;
        if (step < decay_start || decay_ == 0) return peak_;
        const double q = static_cast<double>(step - decay_start) / static_cast<double>(decay_);
        return peak_ + (min_ - peak_) * q;
      }
    }
    return peak_;
  }
  std::int64_t total_steps() const { return total_; }
  lr_shape shape() const { return shape_; }
  double peak() const { return peak_; }

 private:
  lr_shape shape_ = lr_shape::constant;
  double peak_ = 1e-3, min_ = 0.0;
  std::int64_t total_ = 1, warmup_ = 0, decay_ = 0;
};

static_assert(LrSchedule<lr_schedule>);

inline lr_shape lr_shape_from_name(std::string_view s, std::string_view where) {
  for (lr_shape k : {lr_shape::constant, lr_shape::cosine, lr_shape::linear, lr_shape::warmup_stable_decay}) {
    if (s == name(k)) return k;
  }
  raise<config_error>(where, ": unknown schedule '", s, "' (constant, cosine, linear, wsd)");
}

}  // namespace lsk::schedule
