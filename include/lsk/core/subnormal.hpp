// lsk/core/subnormal.hpp: flush subnormal results of exp to zero.
//
// Eigen's vectorised exp clamps its argument (to about -88.7 in f32), so
// exp(-inf), the weight of a masked attention score, comes out as a subnormal
// (~3e-39), not 0; so do the weights of scores more than ~87 below the row's
// maximum. Subnormal operands make x86 cores take a microcode assist per
// multiply: on an Intel Xeon the cpu backend's training at 128 tokens (every
// attention tile on the causal diagonal, half its scores masked) ran about 8x
// slower than with them flushed. Flushing also makes masked keys contribute
// exactly nothing, rather than ~1e-39 of their values.
// Numerics: values below the smallest normal T become +0; since they are at
// most 2^-126 (f32) of the row's largest weight, which is 1, no sum they join
// changes, so results are those of an exact exp up to the exp's own rounding.
#pragma once

#include <cstddef>
#include <limits>

namespace lsk {

// x[i] < smallest normal T -> 0, for the n non-negative values at x (exp results).
template <class T>
void flush_subnormal_exp(T* x, std::ptrdiff_t n) noexcept {
  constexpr T smallest_normal = std::numeric_limits<T>::min();
  for (std::ptrdiff_t i = 0; i < n; ++i) x[i] = x[i] < smallest_normal ? T(0) : x[i];
}

}  // namespace lsk
