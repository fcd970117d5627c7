// lsk/ops/gemm_problem.hpp: the one description of a (batched) matrix product
// that every backend implements.
//
// For b in [0, batch):  C_b = alpha * op(A_b) * op(B_b) + beta * C_b
// with all matrices row-major:
//   A_b at a + b*stride_a: (m, k) with row pitch lda, or (k, m) when trans_a;
//   B_b at b_ + b*stride_b: (k, n) with row pitch ldb, or (n, k) when trans_b;
//   C_b at c + b*stride_c: (m, n) with row pitch ldc.
// A stride of 0 broadcasts one matrix over the batch. When beta == 0, C is
// written without being read (NaNs already in C do not propagate).
#pragma once

#include "lsk/core/shape.hpp"

namespace lsk {

template <class T>
struct gemm_problem {
  bool trans_a = false;
  bool trans_b = false;
  index_t batch = 1, m = 0, n = 0, k = 0;
  const T* a = nullptr;
  index_t lda = 0, stride_a = 0;
  const T* b = nullptr;
  index_t ldb = 0, stride_b = 0;
  T* c = nullptr;
  index_t ldc = 0, stride_c = 0;
  T alpha = T(1);
  T beta = T(0);
};

}  // namespace lsk
