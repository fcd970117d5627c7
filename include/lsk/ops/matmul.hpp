// lsk/ops/matmul.hpp: (batched) matrix products and their gradients.
//
// matmul(be, a, b, c, alpha, beta):  c = alpha * a @ b + beta * c
//   a: (m, k) or (batch, m, k); b: (k, n) or (batch, k, n); c: (m, n) or (batch, m, n).
//   A rank-2 operand is broadcast over the batch. Operands may be transposed
//   views (tensor_view::transpose()): the transpose is passed to the backend's
//   gemm, never copied. Rows must have unit stride in either orientation.
// matmul_backward(be, a, b, dc, da, db, beta_da, beta_db):
//   da = dc @ b^T + beta_da * da,  db = a^T @ dc + beta_db * db, where a
//   broadcast operand's gradient is summed over the batch. Pass an empty view
//   to skip a gradient. Parameter gradients usually want beta = 1 (accumulate).
#pragma once

#include <algorithm>

#include "lsk/ops/check.hpp"

namespace lsk {
namespace detail {

// A rank-2/3 view seen as a (batch of) row-major matrix with a pitch.
template <class T>
struct matrix_operand {
  T* data = nullptr;
  index_t batch = 1, batch_stride = 0, rows = 0, cols = 0, ld = 0;
  bool trans = false;  // stored as (cols, rows) with pitch ld
};

template <class T>
matrix_operand<T> as_matrix(std::string_view op, std::string_view arg, tensor_view<T> v) {
  if (v.rank() != 2 && v.rank() != 3)
    raise<shape_error>(op, ": ", arg, " must have rank 2 or 3, got ", v.extents().str());
  matrix_operand<T> m;
  m.data = v.data();
  if (v.rank() == 3) {
    m.batch = v.dim(0);
    m.batch_stride = v.stride(0);
  }
  m.rows = v.dim(-2);
  m.cols = v.dim(-1);
  if (v.stride(-1) == 1 || m.cols == 1) {
    m.ld = m.rows == 1 ? m.cols : std::max(v.stride(-2), m.cols);
  } else if (v.stride(-2) == 1 || m.rows == 1) {
    m.trans = true;
    m.ld = m.cols == 1 ? m.rows : std::max(v.stride(-1), m.rows);
  } else {
    raise<shape_error>(op, ": ", arg, " ", v.extents().str(), " needs unit stride along rows or columns");
  }
  return m;
}

template <class T>
tensor_view<T> matrix_at(tensor_view<T> v, index_t i) {
  if (v.rank() == 2) return v;
  shape e{v.dim(1), v.dim(2)}, s{v.stride(1), v.stride(2)};
  return tensor_view<T>(v.data() + i * v.stride(0), e, s);
}

}  // namespace detail

template <Backend B, real_scalar T>
void matmul(B& be, std::type_identity_t<const_view<T>> a, std::type_identity_t<const_view<T>> b, tensor_view<T> c,
            T alpha = T(1), T beta = T(0)) {
  constexpr std::string_view op = "matmul";
  detail::require_support(be, op_kind::gemm, dtype_of<T>);
  const auto ma = detail::as_matrix(op, "a", a);
  const auto mb = detail::as_matrix(op, "b", b);
  const auto mc = detail::as_matrix<T>(op, "c", c);
  if (mc.trans) {  // c is a transposed view: compute c^T = b^T a^T instead
    matmul<B, T>(be, b.transpose(), a.transpose(), c.transpose(), alpha, beta);
    return;
  }
  if (ma.cols != mb.rows) {
    raise<shape_error>(op, ": inner extents differ: a ", a.extents().str(), ", b ", b.extents().str());
  }
  if (mc.rows != ma.rows || mc.cols != mb.cols) {
    raise<shape_error>(op, ": c ", c.extents().str(), " must be (", ma.rows, ", ", mb.cols, ") for a ",
                       a.extents().str(), " and b ", b.extents().str());
  }
  const index_t batch = std::max(ma.batch, mb.batch);
  if ((a.rank() == 3 && ma.batch != batch) || (b.rank() == 3 && mb.batch != batch) ||
      (c.rank() == 3 ? mc.batch != batch : batch != 1)) {
    raise<shape_error>(op, ": batch extents disagree: a ", a.extents().str(), ", b ", b.extents().str(), ", c ",
                       c.extents().str());
  }
  gemm_problem<T> g;
  g.trans_a = ma.trans;
  g.trans_b = mb.trans;
  g.batch = batch;
  g.m = mc.rows;
  g.n = mc.cols;
  g.k = ma.cols;
  g.a = ma.data;
  g.lda = ma.ld;
  g.stride_a = a.rank() == 3 ? ma.batch_stride : 0;
  g.b = mb.data;
  g.ldb = mb.ld;
  g.stride_b = b.rank() == 3 ? mb.batch_stride : 0;
  g.c = mc.data;
  g.ldc = mc.ld;
  g.stride_c = c.rank() == 3 ? mc.batch_stride : 0;
  g.alpha = alpha;
  g.beta = beta;
  if (g.m == 0 || g.n == 0) return;
  be.gemm(g);
}

template <Backend B, real_scalar T>
void matmul_backward(B& be, std::type_identity_t<const_view<T>> a, std::type_identity_t<const_view<T>> b,
                     std::type_identity_t<const_view<T>> dc, tensor_view<T> da, tensor_view<T> db, T beta_da = T(0),
                     T beta_db = T(0)) {
  const index_t batch = dc.rank() == 3 ? dc.dim(0) : 1;
  if (da.data() != nullptr) {
    detail::require_same_shape("matmul_backward", "a", a, "da", da);
    if (da.rank() == 2 && batch > 1) {  // a was broadcast: sum its gradient over the batch
      for (index_t i = 0; i < batch; ++i) {
        matmul<B, T>(be, detail::matrix_at(dc, i), detail::matrix_at(b, i).transpose(), da, T(1),
                     i == 0 ? beta_da : T(1));
      }
    } else {
      matmul<B, T>(be, dc, b.transpose(), da, T(1), beta_da);
    }
  }
  if (db.data() != nullptr) {
    detail::require_same_shape("matmul_backward", "b", b, "db", db);
    if (db.rank() == 2 && batch > 1) {
      for (index_t i = 0; i < batch; ++i) {
        matmul<B, T>(be, detail::matrix_at(a, i).transpose(), detail::matrix_at(dc, i), db, T(1),
                     i == 0 ? beta_db : T(1));
      }
    } else {
      matmul<B, T>(be, a.transpose(), dc, db, T(1), beta_db);
    }
  }
}

}  // namespace lsk
