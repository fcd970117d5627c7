// lsk/ops/embedding.hpp: token embedding lookup and its gradient.
//
// embedding_forward:  out[t, :] = table[ids[t], :]          ids (n), table (vocab, dim), out (n, dim)
// embedding_backward: dtable[ids[t], :] += dout[t, :]       (scatter-add; accumulates)
// Token ids outside [0, vocab) throw index_error naming the position (checked
// on the host for host-memory backends).
#pragma once

#include "lsk/ops/check.hpp"

namespace lsk {
namespace detail {
// ids in host memory (also checked by models whose device ops cannot).
inline void check_token_ids_on_host(std::string_view op, const_view<std::int32_t> ids, index_t vocab) {
  const auto span = ids.span();
  for (std::size_t t = 0; t < span.size(); ++t) {
    if (span[t] < 0 || span[t] >= vocab) {
      raise<index_error>(op, ": token id ", span[t], " at position ", t, " is outside [0, ", vocab, ")");
    }
  }
}
template <Backend B>
void check_token_ids(std::string_view op, const_view<std::int32_t> ids, index_t vocab) {
  if constexpr (B::memory == memory_space::host) check_token_ids_on_host(op, ids, vocab);
}
}  // namespace detail

template <Backend B, real_scalar T>
void embedding_forward(B& be, const_view<std::int32_t> ids, std::type_identity_t<const_view<T>> table,
                       tensor_view<T> out) {
  constexpr std::string_view op = "embedding_forward";
  detail::require_support(be, op_kind::embedding_forward, dtype_of<T>);
  detail::require_rank(op, "table", table, 2);
  detail::require_rank(op, "out", out, 2);
  detail::require_numel(op, "ids", ids, out.dim(0));
  detail::require_dim(op, "out", out, 1, table.dim(1));
  detail::require_all_contiguous(op, ids, table, out);
  detail::check_token_ids<B>(op, ids, table.dim(0));
  be.embedding_forward(ids, table, out);
}

template <Backend B, real_scalar T>
void embedding_backward(B& be, const_view<std::int32_t> ids, std::type_identity_t<const_view<T>> dout,
                        tensor_view<T> dtable) {
  constexpr std::string_view op = "embedding_backward";
  detail::require_support(be, op_kind::embedding_backward, dtype_of<T>);
  detail::require_rank(op, "dtable", dtable, 2);
  detail::require_rank(op, "dout", dout, 2);
  detail::require_numel(op, "ids", ids, dout.dim(0));
  detail::require_dim(op, "dout", dout, 1, dtable.dim(1));
  detail::require_all_contiguous(op, ids, dout, dtable);
  detail::check_token_ids<B>(op, ids, dtable.dim(0));
  be.embedding_backward(ids, dout, dtable);
}

}  // namespace lsk
