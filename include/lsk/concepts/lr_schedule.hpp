// lsk/concepts/lr_schedule.hpp: what a learning-rate schedule must provide.
//
// Semantic requirements:
//  1. lr(step) is the learning rate of optimizer step `step` (0-based), a
//     finite number >= 0, a pure function of step (no hidden state), so that
//     a resumed run uses the same rates.
//  2. total_steps() is the number of steps the schedule was made for; lr(step)
//     for step >= total_steps() returns the final value (it does not wrap).
#pragma once

#include <concepts>
#include <cstdint>

namespace lsk {

template <class S>
concept LrSchedule = std::copy_constructible<S> && requires(const S& s, std::int64_t step) {
  { s.lr(step) } -> std::same_as<double>;
  { s.total_steps() } -> std::same_as<std::int64_t>;
};

}  // namespace lsk
