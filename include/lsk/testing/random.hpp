// lsk/testing/random.hpp: random test data that is never zero.
//
// Conformance tests must not compare zeros with zeros (a broken kernel that
// writes nothing would pass), so random tensors draw magnitudes from
// [0.1, 1) * scale with a random sign.
#pragma once

#include <cmath>
#include <limits>

#include "lsk/core/rng.hpp"
#include "lsk/core/tensor.hpp"

namespace lsk::testing {

template <class T>
tensor<T> random_tensor(rng& g, shape extents, double scale = 1.0) {
  tensor<T> t(extents);
  for (auto& v : t.values()) {
    const double magnitude = 0.1 + 0.9 * g.uniform01_d();
    v = static_cast<T>((g.next_u32() & 1u ? 1.0 : -1.0) * magnitude * scale);
  }
  return t;
}

// A tensor filled with NaN: outputs start out like this so that a kernel that
// reads an output it should only write, or leaves part of it unwritten, fails.
template <class T>
tensor<T> poisoned(shape extents) {
  return tensor<T>(extents, std::numeric_limits<T>::quiet_NaN());
}

inline tensor<std::int32_t> random_ids(rng& g, index_t n, index_t vocab) {
  tensor<std::int32_t> t(shape{n});
  for (auto& v : t.values()) v = static_cast<std::int32_t>(g.below(static_cast<std::uint32_t>(vocab)));
  return t;
}

// An extent for trial `trial`: the boundary values first, then random in [lo, hi].
inline index_t pick_extent(rng& g, int trial, std::initializer_list<index_t> boundary, index_t lo, index_t hi) {
  if (trial < static_cast<int>(boundary.size())) return *(boundary.begin() + trial);
  return lo + static_cast<index_t>(g.below(static_cast<std::uint32_t>(hi - lo + 1)));
}

}  // namespace lsk::testing
