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
//
// gemm_operand: one of a product's matrices as stored; backends that keep
// converted copies of operands (lsk/ops/gemm_operand_reuse.hpp) identify a copy
// by its source and drop it when a product's C overlaps that source.
#pragma once

#include <cstdint>

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

// `batches` row-major (rows, cols) matrices with row pitch ld, matrix b at
// data + b * stride (an operand broadcast with stride 0 is one matrix).
template <class T>
struct gemm_operand {
  const T* data = nullptr;
  index_t batches = 0, rows = 0, cols = 0, ld = 0, stride = 0;

  index_t elements() const noexcept { return batches * rows * cols; }
  // Whether the elements lie back to back: rows cols apart, matrices rows * cols apart.
  bool contiguous() const noexcept { return (rows <= 1 || ld == cols) && (batches <= 1 || stride == rows * cols); }
  // Same address, extents, row pitch and batch stride.
  bool same_source(const gemm_operand& o) const noexcept {
    return data == o.data && batches == o.batches && rows == o.rows && cols == o.cols && ld == o.ld &&
           stride == o.stride;
  }
  // Whether the addresses from this operand's first element to its last meet o's.
  bool overlaps(const gemm_operand& o) const noexcept {
    return address(0) < o.address(o.past_last()) && o.address(0) < address(past_last());
  }

 private:
  index_t past_last() const noexcept { return (batches - 1) * stride + (rows - 1) * ld + cols; }
  std::uintptr_t address(index_t element) const noexcept {
    return reinterpret_cast<std::uintptr_t>(data) + static_cast<std::uintptr_t>(element) * sizeof(T);
  }
};

// A product's operands as stored (op(A) is (m, k): A is (k, m) when trans_a),
// and its output C.
template <class T>
gemm_operand<T> operand_a(const gemm_problem<T>& g) {
  return {g.a, g.stride_a == 0 ? 1 : g.batch, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k, g.lda, g.stride_a};
}
template <class T>
gemm_operand<T> operand_b(const gemm_problem<T>& g) {
  return {g.b, g.stride_b == 0 ? 1 : g.batch, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n, g.ldb, g.stride_b};
}
template <class T>
gemm_operand<T> output_c(const gemm_problem<T>& g) {
  return {g.c, g.batch, g.m, g.n, g.ldc, g.stride_c};
}

}  // namespace lsk
