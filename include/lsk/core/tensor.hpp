// lsk/core/tensor.hpp: an owning, contiguous, row-major tensor on the host.
#pragma once

#include <algorithm>
#include <vector>

#include "lsk/core/tensor_view.hpp"

namespace lsk {

template <class T>
class tensor {
 public:
  using value_type = T;

  tensor() = default;
  explicit tensor(shape extents, T fill = T{})
      : storage_(static_cast<std::size_t>(extents.numel()), fill), shape_(extents) {}
  tensor(shape extents, std::vector<T> values) : storage_(std::move(values)), shape_(extents) {
    if (static_cast<index_t>(storage_.size()) != extents.numel()) {
      raise<shape_error>("tensor: ", storage_.size(), " values for shape ", extents.str());
    }
  }

  const shape& extents() const { return shape_; }
  int rank() const { return shape_.rank(); }
  index_t dim(int i) const { return shape_[i < 0 ? rank() + i : i]; }
  index_t numel() const { return shape_.numel(); }
  // True for a default-constructed tensor (no shape, no storage).
  bool empty() const { return shape_.rank() == 0 && storage_.empty(); }
  static constexpr dtype type() { return dtype_of<T>; }

  T* data() { return storage_.data(); }
  const T* data() const { return storage_.data(); }
  std::vector<T>& values() { return storage_; }
  const std::vector<T>& values() const { return storage_; }

  tensor_view<T> view() { return {storage_.data(), shape_}; }
  tensor_view<const T> view() const { return {storage_.data(), shape_}; }
  operator tensor_view<T>() { return view(); }              // NOLINT(google-explicit-constructor)
  operator tensor_view<const T>() const { return view(); }  // NOLINT(google-explicit-constructor)

  template <class... I>
  T& operator()(I... idx) {
    return view()(idx...);
  }
  template <class... I>
  const T& operator()(I... idx) const {
    return view()(idx...);
  }

  void fill(T value) { std::fill(storage_.begin(), storage_.end(), value); }

  // Same elements, new extents (numel must match).
  void reshape(shape extents) {
    if (extents.numel() != numel()) raise<shape_error>("tensor: cannot reshape ", shape_.str(), " to ", extents.str());
    shape_ = extents;
  }

 private:
  std::vector<T> storage_;
  shape shape_;
};

// Element-wise copy between views of the same extents (any strides), with conversion.
template <class To, class From>
void copy(tensor_view<const From> from, tensor_view<To> to) {
  if (!(from.extents() == to.extents())) {
    raise<shape_error>("copy: source ", from.extents().str(), " and destination ", to.extents().str(), " differ");
  }
  const shape& e = from.extents();
  std::array<index_t, shape::max_rank> idx{};
  for (index_t n = 0, total = from.numel(); n < total; ++n) {
    index_t src = 0, dst = 0;
    for (int j = 0; j < e.rank(); ++j) {
      src += idx[static_cast<std::size_t>(j)] * from.stride(j);
      dst += idx[static_cast<std::size_t>(j)] * to.stride(j);
    }
    to.data()[dst] = static_cast<To>(from.data()[src]);
    for (int j = e.rank() - 1; j >= 0; --j) {
      if (++idx[static_cast<std::size_t>(j)] < e[j]) break;
      idx[static_cast<std::size_t>(j)] = 0;
    }
  }
}

// A contiguous tensor of To holding the elements of `from` converted.
template <class To, class From>
tensor<To> convert(tensor_view<const From> from) {
  tensor<To> out(from.extents());
  copy<To, From>(from, out.view());
  return out;
}

}  // namespace lsk
