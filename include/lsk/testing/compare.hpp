// lsk/testing/compare.hpp: how close two tensors are.
//
// scaled_max_error(actual, expected) = max_i |a_i - e_i| / max(max_i |e_i|, tiny):
// the largest error measured against the tensor's own scale, so one tolerance
// serves tensors of any magnitude. NaN anywhere in `actual` gives infinity.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "lsk/core/tensor.hpp"

namespace lsk::testing {

template <class T>
double scaled_max_error(const tensor<T>& actual, const tensor<T>& expected) {
  if (!(actual.extents() == expected.extents())) return std::numeric_limits<double>::infinity();
  double err = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < actual.values().size(); ++i) {
    const double a = actual.values()[i], e = expected.values()[i];
    if (!std::isfinite(a) && !(a == e)) return std::numeric_limits<double>::infinity();
    err = std::max(err, std::abs(a - e));
    scale = std::max(scale, std::abs(e));
  }
  return err / std::max(scale, 1e-30);
}

// True when the tensor has at least one element that is not zero.
template <class T>
bool has_nonzero(const tensor<T>& t) {
  return std::any_of(t.values().begin(), t.values().end(), [](T v) { return v != T(0); });
}

}  // namespace lsk::testing
