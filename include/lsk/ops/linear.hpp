// lsk/ops/linear.hpp: a linear layer y = x W^T with W stored (out, in), as in
// PyTorch and Hugging Face checkpoints, and its gradients.
//
// linear_forward:  y (n, out) = x (n, in) @ W^T
// linear_backward: dx = dy @ W + beta_dx * dx   (beta_dx = 1 adds to an existing dx)
//                  dW += dy^T @ x               (parameter gradient: accumulates)
// Both are matmuls with W's transpose passed to the backend, never copied.
// The backward's two products read dy in one gemm_operand_reuse scope
// (lsk/ops/gemm_operand_reuse.hpp), so a backend that converts operands
// converts dy once.
#pragma once

#include "lsk/ops/gemm_operand_reuse.hpp"
#include "lsk/ops/matmul.hpp"

namespace lsk {

template <Backend B, real_scalar T>
void linear_forward(B& be, std::type_identity_t<const_view<T>> x, std::type_identity_t<const_view<T>> w,
                    tensor_view<T> y) {
  detail::require_rank("linear_forward", "w", w, 2);
  matmul<B, T>(be, x, w.transpose(), y);
}

template <Backend B, real_scalar T>
void linear_backward(B& be, std::type_identity_t<const_view<T>> x, std::type_identity_t<const_view<T>> w,
                     std::type_identity_t<const_view<T>> dy, tensor_view<T> dx, tensor_view<T> dw, T beta_dx = T(0)) {
  detail::require_rank("linear_backward", "w", w, 2);
  const gemm_operand_reuse<B> reuse(be);
  if (dx.data() != nullptr) matmul<B, T>(be, dy, w, dx, T(1), beta_dx);
  if (dw.data() != nullptr) {
    detail::require_same_shape("linear_backward", "w", w, "dw", dw);
    matmul<B, T>(be, dy.transpose(), x, dw, T(1), T(1));
  }
}

}  // namespace lsk
