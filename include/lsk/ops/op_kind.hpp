// lsk/ops/op_kind.hpp: names for every backend operation, so a backend can be
// asked what it supports (a conformance run skips what a backend lacks).
#pragma once

#include <array>
#include <string_view>

namespace lsk {

enum class op_kind {
  gemm,
  embedding_forward,
  embedding_backward,
  rmsnorm_forward,
  rmsnorm_backward,
  silu_forward,
  silu_backward,
  swiglu_forward,
  swiglu_backward,
  softmax_forward,
  causal_softmax_forward,
  softmax_backward,
  cross_entropy_forward,
  cross_entropy_backward,
  add,
  mul,
  scale,
  axpy,
  fill,
  sum,
  sum_squares,
  max_abs,
  sum_rows,
  broadcast_rows,
  rope_forward,
  rope_backward,
  adamw_update,
};

inline constexpr std::array all_op_kinds = {
    op_kind::gemm,
    op_kind::embedding_forward,
    op_kind::embedding_backward,
    op_kind::rmsnorm_forward,
    op_kind::rmsnorm_backward,
    op_kind::silu_forward,
    op_kind::silu_backward,
    op_kind::swiglu_forward,
    op_kind::swiglu_backward,
    op_kind::softmax_forward,
    op_kind::causal_softmax_forward,
    op_kind::softmax_backward,
    op_kind::cross_entropy_forward,
    op_kind::cross_entropy_backward,
    op_kind::add,
    op_kind::mul,
    op_kind::scale,
    op_kind::axpy,
    op_kind::fill,
    op_kind::sum,
    op_kind::sum_squares,
    op_kind::max_abs,
    op_kind::sum_rows,
    op_kind::broadcast_rows,
    op_kind::rope_forward,
    op_kind::rope_backward,
    op_kind::adamw_update,
};

constexpr std::string_view name(op_kind k) {
  switch (k) {
    case op_kind::gemm:
      return "gemm";
    case op_kind::embedding_forward:
      return "embedding_forward";
    case op_kind::embedding_backward:
      return "embedding_backward";
    case op_kind::rmsnorm_forward:
      return "rmsnorm_forward";
    case op_kind::rmsnorm_backward:
      return "rmsnorm_backward";
    case op_kind::silu_forward:
      return "silu_forward";
    case op_kind::silu_backward:
      return "silu_backward";
    case op_kind::swiglu_forward:
      return "swiglu_forward";
    case op_kind::swiglu_backward:
      return "swiglu_backward";
    case op_kind::softmax_forward:
      return "softmax_forward";
    case op_kind::causal_softmax_forward:
      return "causal_softmax_forward";
    case op_kind::softmax_backward:
      return "softmax_backward";
    case op_kind::cross_entropy_forward:
      return "cross_entropy_forward";
    case op_kind::cross_entropy_backward:
      return "cross_entropy_backward";
    case op_kind::add:
      return "add";
    case op_kind::mul:
      return "mul";
    case op_kind::scale:
      return "scale";
    case op_kind::axpy:
      return "axpy";
    case op_kind::fill:
      return "fill";
    case op_kind::sum:
      return "sum";
    case op_kind::sum_squares:
      return "sum_squares";
    case op_kind::max_abs:
      return "max_abs";
    case op_kind::sum_rows:
      return "sum_rows";
    case op_kind::broadcast_rows:
      return "broadcast_rows";
    case op_kind::rope_forward:
      return "rope_forward";
    case op_kind::rope_backward:
      return "rope_backward";
    case op_kind::adamw_update:
      return "adamw_update";
  }
  return "?";
}

}  // namespace lsk
