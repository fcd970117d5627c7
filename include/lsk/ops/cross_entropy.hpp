// lsk/ops/cross_entropy.hpp: softmax cross-entropy with a loss mask.
//
// forward:  lse[r] = log sum_v exp(logits[r, v])              (max-shifted, saved)
//           loss   = sum_r mask[r] * (lse[r] - logits[r, target[r]]) / normalizer
//           normalizer defaults to the number of rows with mask != 0 (the mean
//           over valid tokens); pass the global count to normalise a
//           micro-batch by all tokens of an accumulated batch.
// backward: dlogits[r, v] = mask[r] * dloss / normalizer * (softmax(logits[r])[v] - [v == target[r]])
//           (overwrites; masked rows get 0).
// Targets of masked rows are ignored (may be -1); others must lie in [0, vocab).
#pragma once

#include "lsk/ops/check.hpp"

namespace lsk {

struct cross_entropy_result {
  double loss = 0.0;        // sum of masked losses / normalizer
  double sum = 0.0;         // sum of masked losses
  index_t valid = 0;        // rows with mask != 0
  double normalizer = 0.0;  // what the sum was divided by
};

namespace detail {
// The rows with mask != 0, whose targets must be in [0, classes); host memory
// (also checked by models whose device ops cannot).
inline index_t count_valid_targets_on_host(std::string_view op, const_view<std::int32_t> targets,
                                           const_view<std::uint8_t> mask, index_t classes) {
  const auto t = targets.span();
  const auto m = mask.span();
  index_t valid = 0;
  for (std::size_t r = 0; r < t.size(); ++r) {
    if (m[r] == 0) continue;
    ++valid;
    if (t[r] < 0 || t[r] >= classes) {
      raise<index_error>(op, ": target ", t[r], " at row ", r, " is outside [0, ", classes, ")");
    }
  }
  return valid;
}

template <Backend B, class T>
index_t check_cross_entropy(std::string_view op, const_view<T> logits, const_view<std::int32_t> targets,
                            const_view<std::uint8_t> mask) {
  require_rank(op, "logits", logits, 2);
  require_numel(op, "targets", targets, logits.dim(0));
  require_numel(op, "mask", mask, logits.dim(0));
  require_all_contiguous(op, logits, targets, mask);
  if constexpr (B::memory == memory_space::host) {
    return count_valid_targets_on_host(op, targets, mask, logits.dim(1));
  } else {
    return 0;  // device memory: neither counted nor checked here
  }
}
}  // namespace detail

template <Backend B, real_scalar T>
cross_entropy_result cross_entropy_forward(B& be, std::type_identity_t<const_view<T>> logits,
                                           const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                                           tensor_view<T> lse, double normalizer = 0.0) {
  constexpr std::string_view op = "cross_entropy_forward";
  detail::require_support(be, op_kind::cross_entropy_forward, dtype_of<T>);
  cross_entropy_result r;
  r.valid = detail::check_cross_entropy<B, T>(op, logits, targets, mask);
  detail::require_numel(op, "lse", lse, logits.dim(0));
  detail::require_contiguous(op, "lse", lse);
  r.normalizer = normalizer > 0.0 ? normalizer : static_cast<double>(r.valid);
  r.sum = be.cross_entropy_forward(logits, targets, mask, lse);
  r.loss = r.normalizer > 0.0 ? r.sum / r.normalizer : 0.0;
  return r;
}

template <Backend B, real_scalar T>
void cross_entropy_backward(B& be, std::type_identity_t<const_view<T>> logits, const_view<std::int32_t> targets,
                            const_view<std::uint8_t> mask, std::type_identity_t<const_view<T>> lse, double dloss,
                            double normalizer, tensor_view<T> dlogits) {
  constexpr std::string_view op = "cross_entropy_backward";
  detail::require_support(be, op_kind::cross_entropy_backward, dtype_of<T>);
  detail::check_cross_entropy<B, T>(op, logits, targets, mask);
  detail::require_numel(op, "lse", lse, logits.dim(0));
  detail::require_same_shape(op, "logits", logits, "dlogits", dlogits);
  detail::require_all_contiguous(op, lse, dlogits);
  const T scale = normalizer > 0.0 ? static_cast<T>(dloss / normalizer) : T(0);
  be.cross_entropy_backward(logits, targets, mask, lse, scale, dlogits);
}

}  // namespace lsk
