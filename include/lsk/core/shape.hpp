// lsk/core/shape.hpp: a small fixed-capacity list of extents (or strides).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>

#include "lsk/core/error.hpp"

namespace lsk {

using index_t = std::int64_t;

class shape {
 public:
  static constexpr int max_rank = 6;

  constexpr shape() = default;
  shape(std::initializer_list<index_t> extents) {
    if (extents.size() > static_cast<std::size_t>(max_rank)) {
      raise<shape_error>("shape: rank ", extents.size(), " exceeds the maximum of ", max_rank);
    }
    for (index_t e : extents) push_back(e);
  }

  constexpr int rank() const { return rank_; }
  constexpr index_t operator[](int i) const { return extent_[static_cast<std::size_t>(i)]; }
  constexpr index_t& operator[](int i) { return extent_[static_cast<std::size_t>(i)]; }
  // Extent counted from the back: back(0) is the innermost extent.
  constexpr index_t back(int i = 0) const { return (*this)[rank_ - 1 - i]; }

  void push_back(index_t e) {
    if (rank_ == max_rank) raise<shape_error>("shape: rank exceeds the maximum of ", max_rank);
    if (e < 0) raise<shape_error>("shape: negative extent ", e);
    extent_[static_cast<std::size_t>(rank_++)] = e;
  }

  // Number of elements (1 for rank 0).
  constexpr index_t numel() const {
    index_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= (*this)[i];
    return n;
  }

  // Product of all extents except the innermost: the number of "rows".
  constexpr index_t rows() const {
    index_t n = 1;
    for (int i = 0; i + 1 < rank_; ++i) n *= (*this)[i];
    return n;
  }

  friend constexpr bool operator==(const shape& a, const shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }

  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string((*this)[i]);
    return s + "]";
  }
  friend std::ostream& operator<<(std::ostream& os, const shape& s) { return os << s.str(); }

 private:
  std::array<index_t, max_rank> extent_{};
  int rank_ = 0;
};

// Row-major (C order) strides, in elements, for the given extents.
inline shape contiguous_strides(const shape& extents) {
  shape strides;
  for (int i = 0; i < extents.rank(); ++i) strides.push_back(1);
  index_t step = 1;
  for (int i = extents.rank() - 1; i >= 0; --i) {
    strides[i] = step;
    step *= extents[i];
  }
  return strides;
}

}  // namespace lsk
