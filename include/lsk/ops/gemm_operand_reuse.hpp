// lsk/ops/gemm_operand_reuse.hpp: a scope in which a backend may convert a
// product's operand once and reuse the converted copy in the scope's later
// products.
//
// The CUDA backend's bf16 products first round each f32 operand into a bf16
// copy (lsk/backends/cuda/gemm.hpp). A linear layer's backward reads its
// output gradient twice (for dx and for dW), and a decoder layer's q, k and v
// projections read one input three times. Inside a gemm_operand_reuse scope a
// backend may keep its copies and reuse one when a later product reads the
// same operand (same address, extents, row pitch and batch stride); a product
// whose output overlaps a kept operand drops that copy. The caller promises
// that nothing but the scope's own products writes to memory the scope's
// products read while the scope lasts (lsk/testing/operand_reuse_emulator.hpp
// tests the promise on the host). Scopes nest; copies are released when
// the outermost one ends. Backends without the hooks (begin_operand_reuse,
// end_operand_reuse) ignore the scope, which then costs nothing.
#pragma once

#include <utility>

#include "lsk/concepts/backend.hpp"

namespace lsk {

template <class B>
concept has_operand_reuse_hooks = requires(B& be) {
  be.begin_operand_reuse();
  be.end_operand_reuse();
};

template <Backend B>
class gemm_operand_reuse {
 public:
  explicit gemm_operand_reuse(B& be) : be_(be) {
    if constexpr (has_operand_reuse_hooks<B>) be_.begin_operand_reuse();
  }
  ~gemm_operand_reuse() {
    if constexpr (has_operand_reuse_hooks<B>) {
      static_assert(noexcept(std::declval<B&>().end_operand_reuse()), "end_operand_reuse must not throw");
      be_.end_operand_reuse();
    }
  }
  gemm_operand_reuse(const gemm_operand_reuse&) = delete;
  gemm_operand_reuse& operator=(const gemm_operand_reuse&) = delete;

 private:
  B& be_;
};

}  // namespace lsk
