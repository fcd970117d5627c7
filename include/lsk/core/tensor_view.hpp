// lsk/core/tensor_view.hpp: a non-owning, strided view of typed elements.
//
// Layout: element (i0, i1, ..., ik) lives at data()[sum_j i_j * stride(j)],
// strides counted in elements. Views made from a tensor are row-major and
// contiguous; transpose() and slices make strided ones. tensor_view<T> converts
// to tensor_view<const T>.
#pragma once

#include <span>
#include <type_traits>

#include "lsk/core/dtype.hpp"
#include "lsk/core/shape.hpp"

namespace lsk {

template <class T>
class tensor_view {
 public:
  using element_type = T;
  using value_type = std::remove_const_t<T>;

  constexpr tensor_view() = default;
  tensor_view(T* data, shape extents) : data_(data), shape_(extents), strides_(contiguous_strides(extents)) {}
  tensor_view(T* data, shape extents, shape strides) : data_(data), shape_(extents), strides_(strides) {
    if (strides.rank() != extents.rank()) {
      raise<shape_error>("tensor_view: ", strides.rank(), " strides for rank ", extents.rank());
    }
  }
  // A view of const elements from a view of mutable ones.
  template <class U>
  requires(std::is_const_v<T>&& std::is_same_v<const U, T>)
      tensor_view(const tensor_view<U>& other)  // NOLINT(google-explicit-constructor)
      : data_(other.data()), shape_(other.extents()), strides_(other.strides()) {}

  T* data() const { return data_; }
  const shape& extents() const { return shape_; }
  const shape& strides() const { return strides_; }
  int rank() const { return shape_.rank(); }
  index_t dim(int i) const { return shape_[i < 0 ? rank() + i : i]; }
  index_t stride(int i) const { return strides_[i < 0 ? rank() + i : i]; }
  index_t numel() const { return shape_.numel(); }
  static constexpr dtype type() { return dtype_of<T>; }

  bool is_contiguous() const { return strides_ == contiguous_strides(shape_); }

  // Contiguous elements as a span; throws shape_error for strided views.
  std::span<T> span() const {
    if (!is_contiguous()) raise<shape_error>("tensor_view: span() of a non-contiguous view ", shape_.str());
    return {data_, static_cast<std::size_t>(numel())};
  }

  template <class... I>
  T& operator()(I... idx) const {
    static_assert(sizeof...(I) <= shape::max_rank);
    const index_t indices[] = {static_cast<index_t>(idx)...};
    index_t offset = 0;
    for (std::size_t j = 0; j < sizeof...(I); ++j) offset += indices[j] * strides_[static_cast<int>(j)];
    return data_[offset];
  }

  // Same elements, new extents; needs a contiguous view and the same numel.
  tensor_view reshape(shape extents) const {
    if (extents.numel() != numel()) {
      raise<shape_error>("tensor_view: cannot reshape ", shape_.str(), " to ", extents.str());
    }
    if (!is_contiguous()) raise<shape_error>("tensor_view: reshape of a non-contiguous view ", shape_.str());
    return tensor_view(data_, extents);
  }

  // Swap the two innermost axes (no copy).
  tensor_view transpose() const {
    if (rank() < 2) raise<shape_error>("tensor_view: transpose needs rank >= 2, got ", shape_.str());
    shape e = shape_, s = strides_;
    std::swap(e[rank() - 1], e[rank() - 2]);
    std::swap(s[rank() - 1], s[rank() - 2]);
    return tensor_view(data_, e, s);
  }

  // Elements [begin, end) of the outermost axis.
  tensor_view slice(index_t begin, index_t end) const {
    if (rank() < 1 || begin < 0 || end < begin || end > shape_[0]) {
      raise<shape_error>("tensor_view: slice [", begin, ", ", end, ") of ", shape_.str());
    }
    shape e = shape_;
    e[0] = end - begin;
    return tensor_view(data_ + begin * strides_[0], e, strides_);
  }

 private:
  T* data_ = nullptr;
  shape shape_;
  shape strides_;
};

template <class T>
using const_view = tensor_view<const T>;

}  // namespace lsk
