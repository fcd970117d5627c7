// lsk/ops/check.hpp: argument checks shared by the op functions. Each failure
// throws shape_error / unsupported_error naming the op and the argument.
#pragma once

#include <string_view>

#include "lsk/concepts/backend.hpp"
#include "lsk/core/error.hpp"

namespace lsk::detail {

template <class V>
void require_contiguous(std::string_view op, std::string_view arg, const V& v) {
  if (!v.is_contiguous()) raise<shape_error>(op, ": ", arg, " ", v.extents().str(), " must be contiguous");
}

template <class V>
void require_rank(std::string_view op, std::string_view arg, const V& v, int rank) {
  if (v.rank() != rank) raise<shape_error>(op, ": ", arg, " must have rank ", rank, ", got ", v.extents().str());
}

template <class V>
void require_rank_at_least(std::string_view op, std::string_view arg, const V& v, int rank) {
  if (v.rank() < rank) raise<shape_error>(op, ": ", arg, " must have rank >= ", rank, ", got ", v.extents().str());
}

template <class V, class W>
void require_same_shape(std::string_view op, std::string_view a_name, const V& a, std::string_view b_name, const W& b) {
  if (!(a.extents() == b.extents())) {
    raise<shape_error>(op, ": ", a_name, " ", a.extents().str(), " and ", b_name, " ", b.extents().str(),
                       " must have the same shape");
  }
}

template <class V>
void require_dim(std::string_view op, std::string_view arg, const V& v, int axis, index_t expected) {
  if (v.dim(axis) != expected) {
    raise<shape_error>(op, ": ", arg, " ", v.extents().str(), " must have extent ", expected, " on axis ", axis);
  }
}

template <class V>
void require_numel(std::string_view op, std::string_view arg, const V& v, index_t expected) {
  if (v.numel() != expected) {
    raise<shape_error>(op, ": ", arg, " ", v.extents().str(), " must have ", expected, " elements");
  }
}

template <Backend B>
void require_support(const B& be, op_kind op, dtype dt) {
  if (!be.supports(op, dt))
    raise<unsupported_error>(B::name, " backend does not support ", name(op), " for ", name(dt));
}

// The contiguous checks every row-wise op shares: all views contiguous.
template <class... V>
void require_all_contiguous(std::string_view op, const V&... views) {
  (require_contiguous(op, "argument", views), ...);
}

}  // namespace lsk::detail
